"""Motion for the open model: the pybullet humanoid clips retargeted onto SMPL's 24 joints, and
random smooth pose trajectories within joint limits (all rotations are SMPL local rotations).

Clip format and the mapping recipe: ``docs/open_model.md`` (clip axes +y up, facing +x, right on
+z; zero pose = arms down; quaternions stored ``(w, x, y, z)``, each relative to its parent).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation, Slerp

from ..body.joints import SMPL_JOINT_NAMES

__all__ = ["Motion", "HELD_OUT_CLIPS", "motion_dir", "list_clips", "read_clip", "retarget_clip", "load_motion",
           "resample", "mirror", "random_trajectory", "JOINT_LIMITS"]

# never used for training; the benchmark scores them
HELD_OUT_CLIPS = ("humanoid3d_dance_b", "humanoid3d_kick", "humanoid3d_spinkick")

# clip axes -> SMPL axes: (x, y, z) -> (-z, y, x), a -90 degree rotation about y
_AXES = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
_J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
# layout of a clip frame (44 floats): name -> (offset, size); quaternion (4) or hinge angle (1)
_CLIP_FIELDS = {"root_pos": (1, 3), "root": (4, 4), "chest": (8, 4), "neck": (12, 4), "right_hip": (16, 4),
                "right_knee": (20, 1), "right_ankle": (21, 4), "right_shoulder": (25, 4), "right_elbow": (29, 1),
                "left_hip": (30, 4), "left_knee": (34, 1), "left_ankle": (35, 4), "left_shoulder": (39, 4),
                "left_elbow": (43, 1)}
_LR_PAIRS = [(_J["left_" + n], _J["right_" + n]) for n in
             ("hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist", "hand")]


@dataclass(frozen=True)
class Motion:
    """A motion on SMPL's skeleton, in SMPL world axes (+y up).

    rotmat: ``(N, 24, 3, 3)`` local rotations (pelvis = orientation in the world);
    trans: ``(N, 3)`` pelvis position in metres (ground at y = 0); fps: frames per second.
    """

    name: str
    rotmat: np.ndarray
    trans: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.rotmat)


def motion_dir() -> Path:
    """``pybullet_data/data/motions`` of the installed ``pybullet`` (requirements-train.txt)."""
    try:
        import pybullet_data
    except ImportError as exc:
        raise ImportError("the open model's motion clips come from the pybullet wheel: "
                          "pip install -r requirements-train.txt") from exc
    return Path(pybullet_data.getDataPath()) / "data" / "motions"


def list_clips(folder: str | os.PathLike | None = None) -> dict[str, Path]:
    """Clip name -> file: ``humanoid3d_*`` and ``walker/*`` (named ``walker_<stem>``)."""
    root = Path(folder) if folder is not None else motion_dir()
    out = {p.stem: p for p in sorted(root.glob("humanoid3d_*.txt"))}
    out.update({f"walker_{p.stem}": p for p in sorted((root / "walker").glob("*.txt"))})
    if not out:
        raise FileNotFoundError(f"no humanoid motion clips in {root}")
    return out


def read_clip(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Frames ``(N, 44)`` float64 and the frame duration (seconds) of one clip file."""
    data = json.loads(Path(path).read_text())
    frames = np.asarray(data["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != 44:
        raise ValueError(f"{path}: expected frames of 44 values, found {frames.shape}")
    return frames, float(np.median(frames[:, 0]))


def _quat(frames: np.ndarray, name: str) -> np.ndarray:
    """Clip quaternions ``(N, 4)`` (w, x, y, z) -> normalised rotation matrices ``(N, 3, 3)``."""
    o, _ = _CLIP_FIELDS[name]
    q = frames[:, o:o + 4]
    q = q / np.linalg.norm(q, axis=1, keepdims=True)  # some clips store non-unit quaternions
    return Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()


def _hinge(frames: np.ndarray, name: str) -> np.ndarray:
    """Clip hinge angle about the clip's +z -> rotation matrices ``(N, 3, 3)``."""
    o, _ = _CLIP_FIELDS[name]
    return Rotation.from_rotvec(frames[:, o, None] * np.array([[0.0, 0.0, 1.0]])).as_matrix()


def _fraction(R: np.ndarray, f: float) -> np.ndarray:
    """``R ** f`` for rotation matrices ``(N, 3, 3)`` (same axis, angle scaled)."""
    return Rotation.from_rotvec(Rotation.from_matrix(R).as_rotvec() * f).as_matrix()


def retarget_clip(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip frames ``(N, 44)`` -> SMPL local rotations ``(N, 24, 3, 3)`` and pelvis positions ``(N, 3)``.

    Each clip rotation is expressed in SMPL axes (``A R A^T``); the arms, which hang down at the
    clip's zero pose but lie along +-x in SMPL's T-pose, get a constant 90 degree correction about
    SMPL's forward axis: ``R_smpl = C_parent^-1 R_clip C_own``. Chest -> spread over spine1..3,
    neck -> shared by neck and head; collars, wrists, feet and hands stay at identity.
    """
    n = len(frames)
    conv = lambda R: _AXES @ R @ _AXES.T  # noqa: E731  (N, 3, 3) clip axes -> SMPL axes
    rot = np.tile(np.eye(3), (n, 24, 1, 1))
    rot[:, _J["pelvis"]] = conv(_quat(frames, "root"))
    chest = conv(_quat(frames, "chest"))
    for j in ("spine1", "spine2", "spine3"):
        rot[:, _J[j]] = _fraction(chest, 1.0 / 3.0)
    neck = conv(_quat(frames, "neck"))
    rot[:, _J["neck"]] = rot[:, _J["head"]] = _fraction(neck, 0.5)
    for side, sign in (("left", -1.0), ("right", 1.0)):
        C = Rotation.from_rotvec([0.0, 0.0, sign * np.pi / 2]).as_matrix()  # T-pose arm -> hanging arm
        rot[:, _J[f"{side}_hip"]] = conv(_quat(frames, f"{side}_hip"))
        rot[:, _J[f"{side}_knee"]] = conv(_hinge(frames, f"{side}_knee"))
        rot[:, _J[f"{side}_ankle"]] = conv(_quat(frames, f"{side}_ankle"))
        rot[:, _J[f"{side}_shoulder"]] = conv(_quat(frames, f"{side}_shoulder")) @ C  # parent (collar): no C
        rot[:, _J[f"{side}_elbow"]] = C.T @ conv(_hinge(frames, f"{side}_elbow")) @ C
    trans = frames[:, 1:4] @ _AXES.T
    return rot, trans


def resample(rotmat: np.ndarray, trans: np.ndarray, fps_in: float, fps_out: float, speed: float = 1.0
             ) -> tuple[np.ndarray, np.ndarray]:
    """Resample a motion to ``fps_out`` played at ``speed`` (slerp per joint, linear translation).

    Args:
        rotmat: ``(N, J, 3, 3)``; trans: ``(N, 3)``.
    Returns:
        ``(M, J, 3, 3)`` and ``(M, 3)``.
    """
    n, J = rotmat.shape[:2]
    t_in = np.arange(n) / fps_in
    t_out = np.arange(0.0, t_in[-1] + 1e-9, speed / fps_out)
    out = np.empty((len(t_out), J, 3, 3))
    for j in range(J):
        out[:, j] = Slerp(t_in, Rotation.from_matrix(rotmat[:, j]))(t_out).as_matrix()
    tr = np.stack([np.interp(t_out, t_in, trans[:, k]) for k in range(3)], axis=1)
    return out, tr


def mirror(rotmat: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror image (reflection x -> -x): ``(N, 24, 3, 3)``, ``(N, 3)``."""
    S = np.diag([-1.0, 1.0, 1.0])
    rot = S @ rotmat @ S
    for a, b in _LR_PAIRS:
        rot[:, [a, b]] = rot[:, [b, a]]
    return rot, trans * np.array([-1.0, 1.0, 1.0])


def load_motion(name: str, fps: float = 30.0, folder: str | os.PathLike | None = None) -> Motion:
    """Read, clean and retarget one clip, resampled to ``fps``."""
    frames, dt = read_clip(list_clips(folder)[name])
    rot, trans = retarget_clip(frames)
    rot, trans = resample(rot, trans, 1.0 / dt, fps)
    return Motion(name, rot, trans, fps)


# Per-joint axis-angle box (radians) for random poses in SMPL's local axes: (low xyz, high xyz).
# Positive x bends forward at the spine / hip (hip flexion is negative x), the knee flexes with +x,
# the left arm lies on +x (z < 0 lowers it, y < 0 swings it forward); the right side mirrors.
def _lim(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(lo), np.array(hi)


def _joint_limits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    left = {
        "left_hip": _lim((-1.9, -0.5, -0.3), (0.5, 0.5, 0.9)),
        "left_knee": _lim((0.0, 0.0, 0.0), (2.3, 0.0, 0.0)),
        "left_ankle": _lim((-0.5, -0.25, -0.25), (0.6, 0.25, 0.25)),
        "left_foot": _lim((-0.2, -0.1, -0.1), (0.3, 0.1, 0.1)),
        "left_collar": _lim((-0.2, -0.3, -0.3), (0.2, 0.2, 0.3)),
        "left_shoulder": _lim((-0.9, -1.6, -1.4), (0.9, 0.7, 1.2)),
        "left_elbow": _lim((0.0, -2.4, 0.0), (0.0, 0.0, 0.0)),
        "left_wrist": _lim((-0.5, -0.4, -0.6), (0.5, 0.4, 0.6)),
        "left_hand": _lim((-0.2, -0.2, -0.3), (0.2, 0.2, 0.3)),
    }
    out = {
        "spine1": _lim((-0.25, -0.25, -0.2), (0.45, 0.25, 0.2)),
        "spine2": _lim((-0.15, -0.25, -0.15), (0.3, 0.25, 0.15)),
        "spine3": _lim((-0.15, -0.25, -0.15), (0.3, 0.25, 0.15)),
        "neck": _lim((-0.3, -0.5, -0.3), (0.4, 0.5, 0.3)),
        "head": _lim((-0.3, -0.4, -0.2), (0.3, 0.4, 0.2)),
        **left,
    }
    m = np.array([1.0, -1.0, -1.0])  # the right side mirrors the left: y and z negate
    for k, (lo, hi) in left.items():
        out["right_" + k[5:]] = (np.minimum(lo * m, hi * m), np.maximum(lo * m, hi * m))
    return out


JOINT_LIMITS: dict[str, tuple[np.ndarray, np.ndarray]] = _joint_limits()


def random_trajectory(rng: np.random.Generator, num_frames: int, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A random smooth motion: per-joint keyframes within :data:`JOINT_LIMITS`, cubic in time.

    The pelvis turns slowly about the vertical and tilts a little; translation drifts.
    Returns ``(num_frames, 24, 3, 3)`` local rotations and ``(num_frames, 3)`` pelvis positions.
    """
    dur = num_frames / fps
    key_dt = rng.uniform(0.35, 1.2)  # seconds between keyframes (sets how fast the body moves)
    nk = max(int(np.ceil(dur / key_dt)) + 2, 4)
    tk = np.arange(nk) * key_dt - rng.uniform(0, key_dt)
    t = np.arange(num_frames) / fps
    aa = np.zeros((num_frames, 24, 3))
    amount = rng.uniform(0.4, 1.0)  # how far into the limits this motion goes
    for name, (lo, hi) in JOINT_LIMITS.items():
        mid = (lo + hi) / 2
        keys = mid + (rng.uniform(lo, hi, size=(nk, 3)) - mid) * amount
        keys = np.clip(keys, lo, hi)
        aa[:, _J[name]] = np.clip(CubicSpline(tk, keys, axis=0)(t), lo, hi)
    # upright pelvis: slow yaw, small pitch/roll, occasionally bent (crouch / lean)
    yaw = rng.uniform(-np.pi, np.pi) + np.cumsum(np.full(num_frames, rng.normal(0, 1.0) / fps))
    tilt = CubicSpline(tk, rng.normal(0, 0.15, size=(nk, 2)), axis=0)(t)
    R = (Rotation.from_rotvec(yaw[:, None] * np.array([[0.0, 1.0, 0.0]]))
         * Rotation.from_rotvec(np.concatenate([tilt[:, :1], np.zeros((num_frames, 1)), tilt[:, 1:]], 1)))
    rot = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(num_frames, 24, 3, 3)
    rot[:, 0] = R.as_matrix()
    trans = np.zeros((num_frames, 3))
    trans[:, 1] = 0.9
    trans[:, [0, 2]] = np.cumsum(rng.normal(0, 0.01, size=(num_frames, 2)), axis=0)
    return rot, trans
