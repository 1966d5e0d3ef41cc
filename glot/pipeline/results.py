"""The ``results.npz`` layout: every array has a person axis ``P`` first (one implementation for
offline runs and streams)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..camera import crop_cam_to_orig_img
from ..video import BOX_SCALE
from .regress import BranchResult

__all__ = ["image_space", "result_arrays", "segments_table"]


def image_space(branch: BranchResult, boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Original-image camera and pixel joints of a branch.

    Args:
        branch: estimates with leading dims ``(*L)``.
        boxes: ``(*L, 4)`` unscaled person boxes ``(cx, cy, w, h)`` (NaN rows: no person).
    Returns:
        ``orig_cam (*L, 4)`` float64 ``(sx, sy, tx, ty)`` and ``joints2d (*L, J, 2)`` pixels (NaN
        where no person).
    """
    lead = boxes.shape[:-1]
    scaled = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    scaled[:, 2:] *= BOX_SCALE
    cam = branch.cam.reshape(-1, 3)
    n = len(scaled)
    ok = np.isfinite(scaled).all(1) & np.isfinite(cam).all(1)
    oc = np.full((n, 4), np.nan)
    if ok.any():
        oc[ok] = crop_cam_to_orig_img(cam[ok], scaled[ok], width, height)
    j = branch.joints2d.reshape(n, branch.joints2d.shape[-2], 2)
    j2 = np.empty(j.shape, np.float64)
    j2[..., 0] = scaled[:, None, 0] + j[..., 0] * scaled[:, None, 2] / 2
    j2[..., 1] = scaled[:, None, 1] + j[..., 1] * scaled[:, None, 3] / 2
    return oc.reshape(*lead, 4), j2.reshape(*lead, j.shape[1], 2)


def segments_table(segments: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
    """Per-person segments as ``(S, 3)`` int64 rows ``(person index, start, stop)``."""
    rows = [(p, a, b) for p, segs in enumerate(segments) for a, b in segs]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def result_arrays(
    times: np.ndarray,
    track_id: np.ndarray,
    valid: np.ndarray,
    detected: np.ndarray,
    boxes: np.ndarray,
    segments: Sequence[Sequence[tuple[int, int]]],
    landmarks: np.ndarray,
    visibility: np.ndarray,
    world: np.ndarray,
    image_size: tuple[int, int],
    faces: np.ndarray,
    branches: Mapping[str, BranchResult],
    frame_index: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Everything ``results.npz`` holds, for ``P`` people over ``N`` frames.

    Keys: ``frame_index (N,), time (N,), image_size, faces, track_id (P,), valid (P,N), detected
    (P,N), box (P,N,4), segments (S,3)`` rows ``(person, start, stop)``, ``landmarks (P,N,33,4)``
    ``(x, y, z, visibility)``, ``world_landmarks (P,N,33,3)`` and per branch ``{b}_pose (P,N,72),
    {b}_betas, {b}_cam, {b}_orig_cam (P,N,4), {b}_joints3d (P,N,49,3), {b}_joints2d (P,N,49,2)``
    pixels, ``{b}_rotmat (P,N,24,3,3)``.
    """
    n = len(times)
    W, H = image_size
    boxes = np.asarray(boxes, np.float64)
    lm = np.concatenate([np.asarray(landmarks, np.float32), np.asarray(visibility, np.float32)[..., None]], axis=-1)
    out: dict[str, np.ndarray] = {
        "frame_index": np.arange(n) if frame_index is None else np.asarray(frame_index),
        "time": np.asarray(times, np.float64), "image_size": np.array([W, H]), "faces": np.asarray(faces),
        "track_id": np.asarray(track_id, np.int64), "valid": np.asarray(valid, bool),
        "detected": np.asarray(detected, bool), "box": boxes.astype(np.float32), "segments": segments_table(segments),
        "landmarks": lm, "world_landmarks": np.asarray(world, np.float32),
    }
    for b, r in branches.items():
        oc, j2 = image_space(r, boxes, W, H)
        out.update({f"{b}_pose": r.pose, f"{b}_betas": r.betas, f"{b}_cam": r.cam,
                    f"{b}_orig_cam": oc.astype(np.float32), f"{b}_joints3d": r.joints3d,
                    f"{b}_joints2d": j2.astype(np.float32), f"{b}_rotmat": r.rotmat})
    return out
