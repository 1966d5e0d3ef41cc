"""Person boxes from pose landmarks: derivation, gap filling, segments and smoothing (pure numpy).

Boxes use the official demo convention ``(cx, cy, w, h)`` in pixels with ``w == h``: a square
whose side is about the person's extent along the longer dimension (``scale`` times the longer
side of the visible landmarks' bounding box). The crop later enlarges it by 1.2
(:mod:`glot.video.crop`), so the person fills the crop like a SPIN training crop.

Frames where the person was not detected are filled by linear interpolation when the gap is
short; a long absence splits the clip into segments, each processed on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = [
    "BoxTrack",
    "boxes_from_landmarks",
    "interpolate_gaps",
    "find_segments",
    "smooth_boxes",
    "build_track",
]


@dataclass(frozen=True)
class BoxTrack:
    """Per-frame boxes of one person over a clip."""

    boxes: np.ndarray  # (N, 4) float64 (cx, cy, w, h), w == h; NaN where not valid
    detected: np.ndarray  # (N,) bool: the person was detected in this frame
    valid: np.ndarray  # (N,) bool: a box exists (detected or interpolated) in a kept segment
    segments: list[tuple[int, int]]  # [start, stop) frame ranges of consecutive valid frames


def boxes_from_landmarks(
    landmarks: np.ndarray,
    visibility: np.ndarray | None = None,
    min_visibility: float = 0.5,
    scale: float = 1.1,
    min_points: int = 4,
) -> np.ndarray:
    """Square boxes around the visible landmarks.

    Args:
        landmarks: ``(N, J, >=2)`` image coordinates in pixels (x, y first); NaN rows = no detection.
        visibility: ``(N, J)`` in [0, 1]; landmarks below ``min_visibility`` are ignored (they are
            guesses, often outside the image for half-body shots). None = all visible.
        min_visibility: threshold above.
        scale: side = ``scale`` x the longer side of the landmarks' bounding box (the landmarks stop
            at the eyes/ears and heels, so a little margin covers the head top and feet).
        min_points: frames with fewer visible landmarks use all landmarks.
    Returns:
        ``(N, 4)`` float64 ``(cx, cy, side, side)``; NaN for frames with no landmarks.
    """
    lm = np.asarray(landmarks, dtype=np.float64)[..., :2]  # (N, J, 2)
    n = lm.shape[0]
    finite = np.isfinite(lm).all(-1)  # (N, J)
    if visibility is None:
        use = finite
    else:
        vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64), nan=0.0)
        use = finite & (vis >= min_visibility)
        few = use.sum(1) < min_points
        use[few] = finite[few]
    out = np.full((n, 4), np.nan)
    has = use.any(1)
    if not has.any():
        return out
    x = np.where(use, lm[..., 0], np.nan)[has]
    y = np.where(use, lm[..., 1], np.nan)[has]
    x0, x1 = np.nanmin(x, 1), np.nanmax(x, 1)
    y0, y1 = np.nanmin(y, 1), np.nanmax(y, 1)
    side = scale * np.maximum(x1 - x0, y1 - y0)
    out[has] = np.stack([(x0 + x1) / 2, (y0 + y1) / 2, side, side], axis=1)
    return out


def interpolate_gaps(boxes: np.ndarray, detected: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill runs of at most ``max_gap`` missing frames between two detections.

    Centres are interpolated linearly, sizes linearly in log space. Missing frames before the
    first or after the last detection, and longer gaps, stay NaN.

    Args:
        boxes: ``(N, 4)`` boxes (rows where ``detected`` is False are ignored).
        detected: ``(N,)`` bool.
        max_gap: longest run of missing frames that is filled.
    Returns:
        ``(boxes (N, 4), valid (N,) bool)``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).copy()
    det = np.asarray(detected, dtype=bool) & np.isfinite(boxes).all(1)
    boxes[~det] = np.nan
    valid = det.copy()
    idx = np.flatnonzero(det)
    for a, b in zip(idx[:-1], idx[1:]):
        gap = b - a - 1
        if gap == 0 or gap > max_gap:
            continue
        w = (np.arange(a + 1, b) - a) / (b - a)  # (gap,)
        ca, cb = boxes[a, :2], boxes[b, :2]
        boxes[a + 1 : b, :2] = ca + w[:, None] * (cb - ca)
        la, lb = np.log(boxes[a, 2:]), np.log(boxes[b, 2:])
        boxes[a + 1 : b, 2:] = np.exp(la + w[:, None] * (lb - la))
        valid[a + 1 : b] = True
    return boxes, valid


def find_segments(valid: np.ndarray, min_length: int = 1) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of consecutive True values at least ``min_length`` long."""
    v = np.concatenate([[False], np.asarray(valid, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(v.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    return [(int(a), int(b)) for a, b in zip(starts, stops) if b - a >= min_length]


def smooth_boxes(boxes: np.ndarray, segments: list[tuple[int, int]], sigma: float) -> np.ndarray:
    """Gaussian smoothing over time inside each segment (centre linear, size in log space).

    Args:
        boxes: ``(N, 4)`` boxes, finite inside the segments.
        segments: ``[start, stop)`` ranges, smoothed independently (no blur across a split).
        sigma: standard deviation in frames; 0 returns a copy.
    Returns:
        ``(N, 4)`` smoothed boxes (rows outside the segments unchanged).
    """
    out = np.asarray(boxes, dtype=np.float64).copy()
    if sigma <= 0:
        return out
    for a, b in segments:
        seg = out[a:b]
        feats = np.concatenate([seg[:, :2], np.log(seg[:, 2:])], axis=1)  # (L, 4)
        feats = gaussian_filter1d(feats, sigma, axis=0, mode="nearest")
        out[a:b, :2] = feats[:, :2]
        out[a:b, 2:] = np.exp(feats[:, 2:])
    return out


def build_track(
    boxes: np.ndarray,
    detected: np.ndarray,
    max_gap: int = 15,
    min_segment: int = 5,
    sigma: float = 1.5,
) -> BoxTrack:
    """Raw per-frame boxes -> a :class:`BoxTrack` (gaps filled, split, smoothed).

    Args:
        boxes: ``(N, 4)`` raw boxes (e.g. from :func:`boxes_from_landmarks`).
        detected: ``(N,)`` bool.
        max_gap: gaps up to this many frames are interpolated; longer ones split the clip.
        min_segment: segments shorter than this are dropped (isolated false detections).
        sigma: temporal smoothing in frames.
    """
    detected = np.asarray(detected, dtype=bool)
    filled, valid = interpolate_gaps(boxes, detected, max_gap)
    segments = find_segments(valid, min_segment)
    keep = np.zeros_like(valid)
    for a, b in segments:
        keep[a:b] = True
    filled[~keep] = np.nan
    smoothed = smooth_boxes(filled, segments, sigma)
    return BoxTrack(boxes=smoothed, detected=detected & keep, valid=keep, segments=segments)
