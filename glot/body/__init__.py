"""Body models: the SMPL layer (through smplx), joint sets and body-file readers."""
from .files import MeanParams, read_mean_params, read_smpl_file
from .joints import H36M_TO_J14, SMPL_JOINT_NAMES, SMPL_PARENTS, SPIN_JOINT_NAMES
from .smpl import BodyJoints, SMPLBody

__all__ = [
    "SMPLBody", "BodyJoints", "MeanParams", "read_mean_params", "read_smpl_file",
    "SMPL_JOINT_NAMES", "SMPL_PARENTS", "SPIN_JOINT_NAMES", "H36M_TO_J14",
]
