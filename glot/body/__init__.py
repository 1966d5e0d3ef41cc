"""Body models: the SMPL layer (through smplx), joint sets and body-file readers (imported on first use)."""
from .._lazy import lazy_exports

_EXPORTS = {
    "SMPLBody": ".smpl", "BodyJoints": ".smpl", "MeanParams": ".files", "read_mean_params": ".files",
    "read_smpl_file": ".files", "SMPL_JOINT_NAMES": ".joints", "SMPL_PARENTS": ".joints",
    "SPIN_JOINT_NAMES": ".joints", "H36M_TO_J14": ".joints",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
