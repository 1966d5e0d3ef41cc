"""Cameras: GLoT's weak-perspective crop camera and its conversion to the original image.

The crop camera ``(s, tx, ty)`` is SPIN's: joints are projected with a focal length of 5000 px,
principal point 0, translation ``(tx, ty, 2 * 5000 / (224 * s + 1e-9))``, then divided by
112 so the result is normalised to [-1, 1] over the 224x224 crop.
"""
from __future__ import annotations

import numpy as np
import torch

FOCAL_LENGTH = 5000.0
CROP_SIZE = 224

__all__ = ["FOCAL_LENGTH", "CROP_SIZE", "cam_to_translation", "project_weak_perspective", "crop_cam_to_orig_img"]


def cam_to_translation(cam: torch.Tensor, focal_length: float = FOCAL_LENGTH, crop_size: int = CROP_SIZE) -> torch.Tensor:
    """Weak-perspective ``(..., 3)`` ``(s, tx, ty)`` -> camera translation ``(..., 3)``."""
    depth = 2.0 * focal_length / (crop_size * cam[..., 0] + 1e-9)
    return torch.stack([cam[..., 1], cam[..., 2], depth], dim=-1)


def project_weak_perspective(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Project 3D points with the crop camera.

    Args:
        points: ``(N, J, 3)`` joints in metres (body frame).
        cam: ``(N, 3)`` ``(s, tx, ty)``.
    Returns:
        ``(N, J, 2)`` normalised crop coordinates in [-1, 1].
    """
    p = points + cam_to_translation(cam)[:, None, :]
    xy = p[..., :2] / p[..., 2:3]
    return xy * (FOCAL_LENGTH / (CROP_SIZE / 2.0))


def crop_cam_to_orig_img(cam: np.ndarray, bbox: np.ndarray, img_width: float, img_height: float) -> np.ndarray:
    """Crop camera -> original-image weak-perspective camera ``(sx, sy, tx, ty)``.

    Args:
        cam: ``(N, 3)`` crop cameras ``(s, tx, ty)``.
        bbox: ``(N, >=3)`` boxes ``(cx, cy, size, ...)`` in pixels, already scaled by the crop
            scale (1.2); column 2 is read as the box size.
        img_width, img_height: original image size in pixels.
    Returns:
        ``(N, 4)`` float64: normalised-device-coordinate camera of the full image.
    """
    cam = np.asarray(cam, dtype=np.float64)
    bbox = np.asarray(bbox, dtype=np.float64)
    cx, cy, h = bbox[:, 0], bbox[:, 1], bbox[:, 2]
    hw, hh = img_width / 2.0, img_height / 2.0
    sx = cam[:, 0] * (1.0 / (img_width / h))
    sy = cam[:, 0] * (1.0 / (img_height / h))
    tx = ((cx - hw) / hw / sx) + cam[:, 1]
    ty = ((cy - hh) / hh / sy) + cam[:, 2]
    return np.stack([sx, sy, tx, ty], axis=1)
