"""Training / evaluation data: VIBE/TCMR-format databases and generic sequence datasets.

A *database* is a dict of per-frame arrays (the official preprocessed files, saved with joblib):
``features (N, F)``, ``joints2D (N, 49|25|14, 3)``, ``joints3D (N, 49|17|14, 3)``, ``pose (N, 72)``,
``shape (N, 10)``, ``vid_name (N,)``, ``frame_id (N,)``, ``bbox (N, 4)`` ``(cx, cy, w, h)``, and
validity flags (``valid``, ``valid_i``). Frames of one video are contiguous.

Training samples are ``T``-frame windows that never cross a video boundary (a change of
``vid_name``); ``stride = int(T * (1 - overlap) + 0.5)`` as in the official code. Each sample says
which supervision it carries (``w_3d``, ``w_smpl`` per frame; 2D keypoints carry their confidence).

Security: official databases are pickles (joblib). Unpickling runs code, so :func:`read_database`
only opens the path it is given; never point it at a file you did not make or download yourself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from ..body.joints import NUM_SPIN_JOINTS, SPIN_JOINT_NAMES

__all__ = [
    "DATASET_KINDS", "EVAL_PROTOCOLS", "read_database", "video_segments", "train_windows", "eval_window_indices",
    "official_eval_windows",
    "SequenceDataset", "spin_joints", "normalize_kp2d", "collate_mixed",
]

# kind -> (has 3D joints, has SMPL parameters) as in the official Dataset3D / Insta readers
DATASET_KINDS: dict[str, tuple[bool, bool]] = {
    "3dpw": (True, True),
    "h36m": (True, True),  # table 1 (3DPW) trains without H36M SMPL: set smpl: false
    "mpii3d": (True, False),
    "insta": (False, False),
    "generic": (True, True),  # flags follow what the arrays contain
}

# InstaVariety's 25 OpenPose-style joints (VIBE order), as SPIN names
_INSTA = ("OP RHeel", "OP RKnee", "OP RHip", "OP LHip", "OP LKnee", "OP LHeel", "OP RWrist", "OP RElbow",
          "OP RShoulder", "OP LShoulder", "OP LElbow", "OP LWrist", "OP Neck", "Top of Head (LSP)", "OP Nose",
          "OP LEye", "OP REye", "OP LEar", "OP REar", "OP LBigToe", "OP RBigToe", "OP LSmallToe", "OP RSmallToe",
          "OP LAnkle", "OP RAnkle")
LSP14 = slice(25, 39)  # the 14 LSP ("common") joints inside SPIN's 49


def read_database(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a database file: joblib/pickle (``.pt``, ``.pkl``, ``.joblib``), ``.npz`` or ``.h5``.

    Pickle-based files execute code when loaded: only pass paths you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"database not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as d:
            return {k: d[k] for k in d.files}
    if suffix in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError as exc:  # pragma: no cover - optional
            raise ImportError(f"{path}: reading .h5 databases needs h5py (pip install h5py)") from exc
        with h5py.File(path, "r") as f:
            out = {k: np.asarray(f[k]) for k in f.keys()}
        if "vid_name" in out and out["vid_name"].dtype.kind == "S":
            out["vid_name"] = out["vid_name"].astype(str)
        return out
    try:
        import joblib
    except ImportError:  # plain pickles still load; joblib-compressed arrays need joblib
        import pickle

        with open(path, "rb") as fh:
            data = pickle.load(fh)
    else:
        data = joblib.load(path)
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a dict of per-frame arrays, found {type(data).__name__}")
    return {k: np.asarray(v) for k, v in data.items()}


def video_segments(vid_names: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of equal ``vid_name``: ``[(start, stop), ...]`` (stop exclusive)."""
    names = np.asarray(vid_names)
    if len(names) == 0:
        return []
    change = np.flatnonzero(names[1:] != names[:-1]) + 1
    bounds = np.concatenate([[0], change, [len(names)]])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def train_windows(vid_names: np.ndarray, seqlen: int, overlap: float = 0.0) -> np.ndarray:
    """Start frames of the training windows ``(M,)``; each covers ``[s, s + seqlen)`` of one video.

    Videos shorter than ``seqlen`` give no window (official ``split_into_chunks``).
    """
    stride = max(int(seqlen * (1 - overlap) + 0.5), 1)
    starts = [np.arange(a, b - seqlen + 1, stride) for a, b in video_segments(vid_names) if b - a >= seqlen]
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)


EVAL_PROTOCOLS = ("official", "clean")


def official_eval_windows(num_frames: int, seqlen: int) -> np.ndarray:
    """The windows of the official ``evaluate.py`` for one video of ``N`` frames: ``(M, seqlen)``.

    Facts of the official code (``split_into_chunks_test`` with stride 1, then ``get_sequence``):

    * a video shorter than ``T`` frames gives no window (it is not scored): ``(0, T)``;
    * ``T // 2`` front windows ``[0, T//2 + j - 1]`` (j = 0, 1, ...), left-padded with frame 0: row
      ``j`` is centred on frame ``j``, as clamping would give;
    * the ``N - T + 1`` full windows ``[s, s + T - 1]``: rows ``T//2 .. N - T//2``, in order;
    * ``T // 2 - 1`` end windows ``[N - 1 - (T//2 + j), N - 1]``, right-padded with frame ``N - 1``:
      row ``N - T//2 + 1 + j`` is centred on frame ``N - 1 - j``, i.e. the last ``T//2 - 1`` rows
      predict frames ``N-1, N-2, ...`` in *reverse* order, while ``evaluate.py`` keeps the targets in
      order (it compares them row by row: the tail frames are scored against other frames).

    ``M = N`` for even ``T`` (``N - 1`` for odd ``T``; the official script uses ``T = 16``).
    """
    n, T = int(num_frames), int(seqlen)
    if T < 1:
        raise ValueError(f"seqlen must be >= 1, got {seqlen}")
    if n < T:
        return np.zeros((0, T), np.int64)
    spans = [(s, s + T - 1) for s in range(n - T + 1)]
    if T != 1:  # stride 1 != seqlen: the official code adds the edge windows
        half = T // 2
        spans = [(0, half + j - 1) for j in range(half)] + spans
        last = spans[-1][1]
        spans += [(last - (half + j), last) for j in range(half - 1)]
    rows = []
    for a, b in spans:
        run = list(range(a, b + 1))
        pad = T - len(run)
        rows.append([a] * pad + run if a == 0 else run + [b] * pad)  # official get_sequence
    return np.asarray(rows, dtype=np.int64).reshape(-1, T)


def eval_window_indices(num_frames: int, seqlen: int, protocol: str = "clean") -> np.ndarray:
    """Evaluation windows of one video, ``(M, seqlen)`` (row ``i`` is scored against frame ``i``).

    ``protocol="clean"``: one window per frame, centred on it (frame ``i`` at ``seqlen // 2``), edge
    frames repeated (clamped); every video is scored, however short (``M = N``).
    ``protocol="official"``: exactly the official ``evaluate.py`` windows
    (:func:`official_eval_windows`: reversed tail, videos shorter than ``seqlen`` skipped).
    """
    if protocol == "official":
        return official_eval_windows(num_frames, seqlen)
    if protocol != "clean":
        raise ValueError(f"unknown evaluation protocol '{protocol}'; choose from {EVAL_PROTOCOLS}")
    from ..video.windows import window_indices  # the project's one window implementation

    return window_indices(num_frames, seqlen, "clamp")


def spin_joints(j: np.ndarray, kind: str = "") -> np.ndarray:
    """Joints ``(N, J, C)`` in SPIN's 49-joint order: 49 as is, 14 LSP at 25..38, Insta's 25 by name."""
    n, J, C = j.shape
    if J == NUM_SPIN_JOINTS:
        return j
    out = np.zeros((n, NUM_SPIN_JOINTS, C), dtype=j.dtype)
    if J == 14:
        out[:, LSP14] = j
    elif J == 25 and kind == "insta":
        idx = [SPIN_JOINT_NAMES.index(name) for name in _INSTA]
        out[:, idx] = j
    else:
        raise ValueError(f"cannot map {J} joints of a '{kind}' database to SPIN's 49")
    return out


def normalize_kp2d(kp: np.ndarray, bbox: np.ndarray | None, scale: float = 1.2) -> np.ndarray:
    """Pixels -> crop coordinates in [-1, 1] (the official 224 crop of the ``scale``-enlarged box).

    Args:
        kp: ``(N, J, 3)`` ``(x, y, conf)``; bbox: ``(N, 4)`` ``(cx, cy, w, h)`` or None (then
            ``kp`` is already normalised and returned unchanged).
    """
    if bbox is None:
        return kp
    out = kp.astype(np.float32).copy()
    b = bbox.astype(np.float32)
    out[..., 0] = 2.0 * (out[..., 0] - b[:, None, 0]) / (scale * b[:, None, 2])
    out[..., 1] = 2.0 * (out[..., 1] - b[:, None, 1]) / (scale * b[:, None, 3])
    return out


@dataclass(frozen=True)
class _Flags:
    has_3d: bool
    has_smpl: bool


class SequenceDataset(Dataset):
    """Fixed-length windows over per-frame arrays (one class for official databases, npz files and
    in-memory data, e.g. MediaPipe landmark features of any width).

    Args:
        arrays: per-frame arrays (see module doc); only ``features (N, F)`` is required.
            ``vid_name`` (default: one video). ``joints2D`` in pixels when ``bbox`` is given,
            otherwise already in crop coordinates [-1, 1].
        seqlen: window length ``T``; overlap: share of overlap between windows.
        kind: one of :data:`DATASET_KINDS` (sets which supervision the data carries).
        smpl: override SMPL supervision (the official table-1 3DPW config trains without H36M SMPL).
        name: for messages.
    Items: dict with ``features (T, F)``, ``kp_2d (T, 49, 3)``, ``kp_3d (T, 49, 3)``,
    ``theta (T, 85)`` (``[1, 0, 0]`` cam, pose, shape), ``w_3d (T,)``, ``w_smpl (T,)``.
    """

    def __init__(self, arrays: Mapping[str, Any], seqlen: int, overlap: float = 0.0, kind: str = "generic",
                 smpl: bool | None = None, name: str = "", future_frames: int | None = None) -> None:
        if kind not in DATASET_KINDS:
            raise ValueError(f"unknown dataset kind '{kind}'; choose from {sorted(DATASET_KINDS)}")
        if "features" not in arrays:
            raise ValueError(f"{name or 'dataset'}: no 'features' array")
        self.name, self.kind, self.seqlen = name or kind, kind, int(seqlen)
        # live-edge clamp: window positions after centre + k repeat that frame's feature
        self.feature_pos = np.arange(self.seqlen)
        if future_frames is not None:
            last = self.seqlen // 2 + int(future_frames)
            if not 0 <= int(future_frames) < self.seqlen - self.seqlen // 2:
                raise ValueError(f"future_frames must be in 0..{self.seqlen - self.seqlen // 2 - 1}")
            self.feature_pos = np.minimum(self.feature_pos, last)
        feats = np.asarray(arrays["features"], dtype=np.float32)
        n = len(feats)
        self.features = torch.from_numpy(feats)  # (N, F)
        vid = np.asarray(arrays.get("vid_name", np.zeros(n, dtype=np.int64)))
        has_3d, has_smpl = DATASET_KINDS[kind]
        has_3d = has_3d and "joints3D" in arrays
        has_smpl = (has_smpl if smpl is None else bool(smpl)) and "pose" in arrays and "shape" in arrays
        self.flags = _Flags(has_3d, has_smpl)
        valid = np.ones(n, np.float32)
        if "valid" in arrays:
            valid = np.asarray(arrays["valid"], dtype=np.float32).reshape(n, -1)[:, 0]

        kp2 = np.zeros((n, NUM_SPIN_JOINTS, 3), np.float32)
        if "joints2D" in arrays:
            j2 = spin_joints(np.asarray(arrays["joints2D"], dtype=np.float32), kind)
            kp2 = normalize_kp2d(j2, np.asarray(arrays["bbox"]) if "bbox" in arrays else None)
            if kind == "insta" and "bbox" not in arrays:  # Insta stores 224-pixel crop coordinates
                kp2 = kp2.copy()
                kp2[..., :2] = kp2[..., :2] / 112.0 - 1.0
        self.kp_2d = torch.from_numpy(np.ascontiguousarray(kp2, dtype=np.float32))
        kp3 = np.zeros((n, NUM_SPIN_JOINTS, 3), np.float32)
        if has_3d:
            kp3 = spin_joints(np.asarray(arrays["joints3D"], dtype=np.float32)[..., :3], kind)
        self.kp_3d = torch.from_numpy(np.ascontiguousarray(kp3, dtype=np.float32))
        theta = np.zeros((n, 85), np.float32)
        theta[:, 0] = 1.0
        if has_smpl:
            theta[:, 3:75] = np.asarray(arrays["pose"], dtype=np.float32)
            theta[:, 75:] = np.asarray(arrays["shape"], dtype=np.float32)
        self.theta = torch.from_numpy(theta)
        self.w_3d = torch.from_numpy(valid * float(has_3d))
        self.w_smpl = torch.from_numpy(valid * float(has_smpl))
        self.starts = train_windows(vid, self.seqlen, overlap)
        self.vid_name = vid

    @classmethod
    def from_file(cls, path: str | os.PathLike, seqlen: int, **kw: Any) -> "SequenceDataset":
        """Read ``path`` with :func:`read_database` (pickles: trusted paths only)."""
        kw.setdefault("name", Path(path).name)
        return cls(read_database(path), seqlen, **kw)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    def __len__(self) -> int:
        return len(self.starts)

    def frames(self, index: int) -> np.ndarray:
        """Database frame indices of window ``index``: ``(T,)``."""
        s = int(self.starts[index])
        return np.arange(s, s + self.seqlen)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s = int(self.starts[index])
        sl = slice(s, s + self.seqlen)
        return {"features": self.features[s + self.feature_pos], "kp_2d": self.kp_2d[sl], "kp_3d": self.kp_3d[sl],
                "theta": self.theta[sl], "w_3d": self.w_3d[sl], "w_smpl": self.w_smpl[sl]}


def collate_mixed(*batches: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """Concatenate batches (2D-only first, then 3D, as the official trainer) along dim 0."""
    parts = [b for b in batches if b is not None]
    return {k: torch.cat([b[k] for b in parts], dim=0) for k in parts[0]}
