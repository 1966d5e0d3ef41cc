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

__all__ = ["FOCAL_LENGTH", "CROP_SIZE", "cam_to_translation", "project_weak_perspective", "crop_cam_to_orig_img",
           "orig_cam_to_translation"]


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


def orig_cam_to_translation(orig_cam: np.ndarray, img_width: float, img_height: float,
                            focal_length: float | None = None, root: np.ndarray | None = None) -> np.ndarray:
    """Image camera -> camera-frame translation for a pinhole camera of a stated focal length.

    The overlay projects a body-frame point ``X`` (x right, y down, z away) orthographically:
    ``u = (sx * (X + tx) + 1) * W / 2`` (:func:`glot.render.projection.project_orig_cam`), i.e.
    ``sx * W / 2`` pixels per metre around the image centre. A pinhole camera with focal length
    ``f`` pixels and principal point at the image centre projects ``X + t`` as
    ``u = f * (X + t_x) / (Z + t_z) + W / 2``. Choosing the root's depth ``d = 2 f / (sx W)``
    (``= 2 f / (sy H)``: :func:`crop_cam_to_orig_img` makes ``sx W = sy H``; their mean is used)
    and ``t`` so the root lands where the overlay puts it makes both projections agree at the
    root, in position and in scale at the root's depth; points away from that depth differ by
    perspective only (relative ``dZ / d``).

    Args:
        orig_cam: ``(N, 4)`` ``(sx, sy, tx, ty)`` image cameras.
        img_width, img_height: image size in pixels.
        focal_length: pixels; ``None``: the image diagonal ``hypot(W, H)`` (about 53 degrees of
            diagonal field of view, a usual guess for an unknown camera).
        root: ``(3,)`` or ``(N, 3)`` body-frame position of the point to match (the root joint,
            ``J_regressor @ v_shaped`` row 0); ``None``: the body-frame origin.
    Returns:
        ``(N, 3)`` float64 ``t`` such that ``X + t`` is the camera-frame position (metres), i.e.
        ``(tx, ty, d)`` for ``root=None`` (exactly ``(tx, ty, d - root_z)`` for ``sx W = sy H``).
    """
    cam = np.asarray(orig_cam, dtype=np.float64).reshape(-1, 4)
    f = float(np.hypot(img_width, img_height)) if focal_length is None else float(focal_length)
    if not f > 0:
        raise ValueError(f"focal length must be positive, got {focal_length}")
    sx_px, sy_px = cam[:, 0] * img_width / 2.0, cam[:, 1] * img_height / 2.0  # pixels per metre
    if not (np.all(sx_px > 0) and np.all(sy_px > 0)):
        raise ValueError("image camera scales must be positive")
    depth = 2.0 * f / (sx_px + sy_px)  # (N,) root depth: f / depth = mean scale
    r = np.zeros((len(cam), 3)) if root is None else np.broadcast_to(np.asarray(root, np.float64), (len(cam), 3))
    tx = sx_px * depth / f * (r[:, 0] + cam[:, 2]) - r[:, 0]
    ty = sy_px * depth / f * (r[:, 1] + cam[:, 3]) - r[:, 1]
    return np.stack([tx, ty, depth - r[:, 2]], axis=1)
