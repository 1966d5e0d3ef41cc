"""The ``results.npz`` layout (one implementation for offline runs and streams)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..camera import crop_cam_to_orig_img
from ..video import BOX_SCALE
from .regress import BranchResult

__all__ = ["image_space", "result_arrays"]


def image_space(branch: BranchResult, boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Original-image camera and pixel joints of a branch.

    Args:
        boxes: ``(N, 4)`` unscaled person boxes ``(cx, cy, w, h)`` (NaN rows: no person).
    Returns:
        ``orig_cam (N, 4)`` float64 ``(sx, sy, tx, ty)`` and ``joints2d (N, J, 2)`` pixels (NaN
        where no person).
    """
    scaled = np.asarray(boxes, dtype=np.float64).copy()
    scaled[:, 2:] *= BOX_SCALE
    n = len(scaled)
    ok = np.isfinite(scaled).all(1) & np.isfinite(branch.cam).all(1)
    oc = np.full((n, 4), np.nan)
    if ok.any():
        oc[ok] = crop_cam_to_orig_img(branch.cam[ok], scaled[ok], width, height)
    j2 = np.empty(branch.joints2d.shape, np.float64)
    j2[..., 0] = scaled[:, None, 0] + branch.joints2d[..., 0] * scaled[:, None, 2] / 2
    j2[..., 1] = scaled[:, None, 1] + branch.joints2d[..., 1] * scaled[:, None, 3] / 2
    return oc, j2


def result_arrays(
    times: np.ndarray,
    valid: np.ndarray,
    detected: np.ndarray,
    boxes: np.ndarray,
    segments: Sequence[tuple[int, int]],
    landmarks: np.ndarray,
    visibility: np.ndarray,
    world: np.ndarray,
    image_size: tuple[int, int],
    faces: np.ndarray,
    branches: Mapping[str, BranchResult],
    frame_index: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Everything ``results.npz`` holds, for ``N`` frames.

    Keys: ``frame_index, time, valid, detected, box, segments, landmarks (N,33,3), visibility,
    world_landmarks, image_size, faces`` and per branch ``{b}_pose (N,72), {b}_betas, {b}_cam,
    {b}_orig_cam (N,4), {b}_joints3d (N,49,3), {b}_joints2d (N,49,2) pixels, {b}_rotmat``.
    """
    n = len(times)
    W, H = image_size
    out: dict[str, np.ndarray] = {
        "frame_index": np.arange(n) if frame_index is None else np.asarray(frame_index),
        "time": np.asarray(times, np.float64), "valid": np.asarray(valid, bool), "detected": np.asarray(detected, bool),
        "box": np.asarray(boxes, np.float32), "segments": np.asarray(segments, dtype=np.int64).reshape(-1, 2),
        "landmarks": np.asarray(landmarks, np.float32), "visibility": np.asarray(visibility, np.float32),
        "world_landmarks": np.asarray(world, np.float32), "image_size": np.array([W, H]),
        "faces": np.asarray(faces),
    }
    for b, r in branches.items():
        oc, j2 = image_space(r, boxes, W, H)
        out.update({f"{b}_pose": r.pose, f"{b}_betas": r.betas, f"{b}_cam": r.cam,
                    f"{b}_orig_cam": oc.astype(np.float32), f"{b}_joints3d": r.joints3d,
                    f"{b}_joints2d": j2.astype(np.float32), f"{b}_rotmat": r.rotmat})
    return out
