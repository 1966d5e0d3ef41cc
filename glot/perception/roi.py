"""Rotated square regions of interest, as MediaPipe Pose derives and crops them (pure numpy).

A region is ``(cx, cy, side, rotation)`` in pixels of the frame, ``rotation`` in radians with
MediaPipe's sign (a crop point ``(u, v)`` relative to the crop centre maps to the frame point
``centre + R(rotation) @ (u, v)``, ``R = [[cos, -sin], [sin, cos]]``). The pose detector and the
landmark model both give two alignment points: the mid-hip centre and a point whose distance
encodes the body's size and whose direction its rotation; the region is the square of side
``2 * 1.25 * |scale_point - centre|`` turned so that the body stands upright in the crop
(MediaPipe's ``AlignmentPointsRectsCalculator`` + ``RectTransformationCalculator``, 0.10.21).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ROI_SCALE", "roi_from_alignment", "crop_matrix", "crop_to_frame", "square_regions"]

ROI_SCALE = 1.25  # region side / (2 x alignment distance), MediaPipe's training margin


def _normalize_angle(a: np.ndarray) -> np.ndarray:
    return a - 2 * np.pi * np.floor((a + np.pi) / (2 * np.pi))


def roi_from_alignment(centre: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE) -> np.ndarray:
    """Regions from alignment points.

    Args:
        centre: ``(..., 2)`` mid-hip centre, pixels.
        scale_point: ``(..., 2)`` the size/rotation point, pixels.
        scale: margin (MediaPipe's 1.25).
    Returns:
        ``(..., 4)`` ``(cx, cy, side, rotation)``.
    """
    c = np.asarray(centre, dtype=np.float64)
    d = np.asarray(scale_point, dtype=np.float64) - c
    side = 2.0 * np.hypot(d[..., 0], d[..., 1]) * scale
    rotation = _normalize_angle(np.pi / 2 - np.arctan2(-d[..., 1], d[..., 0]))  # body axis -> upright
    return np.stack([c[..., 0], c[..., 1], side, rotation], axis=-1)


def _rotation(rot: float) -> np.ndarray:
    c, s = np.cos(rot), np.sin(rot)
    return np.array([[c, -s], [s, c]])


def crop_matrix(roi: np.ndarray, size: int) -> np.ndarray:
    """``(2, 3)`` affine taking frame pixels to the ``size x size`` crop of ``roi`` (for cv2.warpAffine)."""
    cx, cy, side, rot = (float(v) for v in roi)
    k = size / side
    m = k * _rotation(rot).T  # frame offset -> crop offset
    return np.concatenate([m, (np.array([size / 2, size / 2]) - m @ (cx, cy))[:, None]], axis=1)


def crop_to_frame(points: np.ndarray, roi: np.ndarray, size: int) -> np.ndarray:
    """Crop pixels ``(..., 2)`` of a ``size`` crop of ``roi`` -> frame pixels ``(..., 2)``."""
    cx, cy, side, rot = (float(v) for v in roi)
    rel = (np.asarray(points, dtype=np.float64) / size - 0.5) * side
    return rel @ _rotation(rot).T + (cx, cy)


def square_regions(width: int, height: int, side: float, overlap: float = 0.5) -> np.ndarray:
    """Axis-aligned squares of ``side`` covering a ``width x height`` frame with ``overlap``.

    Returns:
        ``(R, 3)`` ``(cx, cy, side)``; one square (the frame's centre) when ``side`` covers it.
    """
    def centres(length: int) -> np.ndarray:
        if side >= length:
            return np.array([length / 2.0])
        step = side * (1.0 - overlap)
        n = int(np.ceil((length - side) / step - 1e-9)) + 1
        return np.linspace(side / 2, length - side / 2, n)

    xs, ys = centres(width), centres(height)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, float(side))], axis=1)
