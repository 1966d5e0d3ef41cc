"""The video pipeline: what the CLI (``glot run``) and the app call (names imported on first use)."""
from .._lazy import lazy_exports

_EXPORTS = {
    "ModelBundle": ".bundle", "load_bundle": ".bundle", "find_glot_checkpoint": ".bundle",
    "FrameMeshes": ".meshes", "iter_frame_meshes": ".meshes", "person_shapes": ".meshes", "pose_meshes": ".meshes",
    "EDGE_MODES": ".options", "MASK_PATTERNS": ".options", "MESH_EXPORTS": ".options", "RunOptions": ".options",
    "BRANCHES": ".options", "BRANCH_COLORS": ".run", "BranchResult": ".regress", "occlusion_mask": ".regress", "regress_frames": ".regress",
    "regress_people": ".regress", "PipelineError": ".run", "RunResult": ".run",
    "run_video": ".run",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
