"""Joint sets and index maps (SMPL 24, SPIN's 49, LSP 14)."""
from __future__ import annotations

__all__ = [
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "EXTRA_VERTEX_NAMES",
    "SPIN_JOINT_NAMES",
    "SPIN_JOINT_MAP",
    "H36M_TO_J14",
    "LSP14_NAMES",
    "NUM_SPIN_JOINTS",
]

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)
# SMPL's kinematic tree (for tests and drawing; the model reads ``parents`` from the body file).
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# smplx's extra-vertex joints, in its selection order (face, feet, left tips, right tips).
EXTRA_VERTEX_NAMES: tuple[str, ...] = (
    "nose", "reye", "leye", "rear", "lear",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky",
    "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)

# SPIN's 49 output joints: 25 OpenPose + 24 "ground-truth" joints.
SPIN_JOINT_NAMES: tuple[str, ...] = (
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder", "OP LElbow", "OP LWrist",
    "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip", "OP LKnee", "OP LAnkle", "OP REye", "OP LEye",
    "OP REar", "OP LEar", "OP LBigToe", "OP LSmallToe", "OP LHeel", "OP RBigToe", "OP RSmallToe", "OP RHeel",
    "Right Ankle", "Right Knee", "Right Hip", "Left Hip", "Left Knee", "Left Ankle", "Right Wrist", "Right Elbow",
    "Right Shoulder", "Left Shoulder", "Left Elbow", "Left Wrist", "Neck (LSP)", "Top of Head (LSP)",
    "Pelvis (MPII)", "Thorax (MPII)", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)", "Nose", "Left Eye",
    "Right Eye", "Left Ear", "Right Ear",
)
NUM_SPIN_JOINTS = len(SPIN_JOINT_NAMES)

# Index of each SPIN joint among the 54 candidates
# [24 SMPL joints, 21 extra-vertex joints, 9 J_regressor_extra joints].
SPIN_JOINT_MAP: tuple[int, ...] = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27,
)

# H36M regressor (17 joints) -> the 14 LSP joints used for evaluation.
H36M_TO_J14: tuple[int, ...] = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
LSP14_NAMES: tuple[str, ...] = (
    "R ankle", "R knee", "R hip", "L hip", "L knee", "L ankle", "R wrist", "R elbow", "R shoulder",
    "L shoulder", "L elbow", "L wrist", "neck", "head top",
)
