"""The video pipeline: what the CLI (``glot run``) and the app call."""
from .bundle import ModelBundle, find_glot_checkpoint, load_bundle
from .options import EDGE_MODES, MASK_PATTERNS, RunOptions
from .regress import BranchResult, occlusion_mask, regress_frames
from .run import BRANCHES, PipelineError, RunResult, iter_branch_verts, run_video

__all__ = [
    "ModelBundle", "load_bundle", "find_glot_checkpoint", "RunOptions", "MASK_PATTERNS", "EDGE_MODES",
    "BranchResult", "regress_frames", "occlusion_mask", "run_video", "RunResult", "PipelineError",
    "iter_branch_verts", "BRANCHES",
]
