"""Pixel projection of camera-frame SMPL vertices with the original-image camera.

GLoT (like VIBE) renders with a weak-perspective "original-image" camera
``orig_cam = (sx, sy, tx, ty)`` from :func:`glot.camera.crop_cam_to_orig_img`. The official
renderer feeds OpenGL a projection with ``P[0,0]=sx, P[1,1]=sy, P[0,3]=sx*tx, P[1,3]=-sy*ty``
and first rotates the mesh by 180 degrees about x, i.e. ``(X, Y, Z) -> (X, -Y, -Z)``. Working
that through for a camera-frame vertex ``(X, Y, Z)`` (x right, y *down*, z away from the camera):

* OpenGL NDC: ``x_gl = sx*(X + tx)``, ``y_gl = -sy*(Y + ty)`` (y up), ``z`` toward the viewer = ``-Z``.
* Window pixels (y down): ``u = (x_gl + 1) * W/2`` and ``v = (1 - y_gl) * H/2``, hence

      u = (sx * (X + tx) + 1) * W / 2
      v = (sy * (Y + ty) + 1) * H / 2
      depth = Z            (larger = farther; the z-buffer keeps the smallest)

``(u, v)`` are continuous pixel coordinates: pixel column ``i`` spans ``[i, i+1)`` and its centre
is ``u = i + 0.5`` (NDC -1 is the left edge of pixel 0, as in OpenGL). This is the same mapping
as the crop camera's ``s*(X + tx)`` in :func:`glot.camera.project_weak_perspective` once the crop
box is mapped onto the full image, so meshes and 2D keypoints line up.
"""
from __future__ import annotations

import numpy as np

__all__ = ["camera_depth", "project_orig_cam"]


def project_orig_cam(verts: np.ndarray, orig_cam: np.ndarray, width: int, height: int,
                     out: np.ndarray | None = None) -> np.ndarray:
    """Project camera-frame points to pixels with the original-image camera.

    Args:
        verts: ``(..., 3)`` points ``(X, Y, Z)`` in the camera-aligned SMPL frame (metres).
        orig_cam: ``(4,)`` ``(sx, sy, tx, ty)``, or ``(..., 4)`` broadcasting against ``verts[..., :1]``
            (e.g. ``(P, 1, 4)`` for ``(P, V, 3)`` people).
        width, height: image size in pixels.
        out: optional float32 array of the result's shape to write into.
    Returns:
        ``(..., 3)`` float32 ``(u, v, depth)``: continuous pixel coordinates (pixel centres at
        ``i + 0.5``) and depth ``Z`` (larger = farther). Arithmetic is float32 throughout.
    """
    verts = np.asarray(verts, dtype=np.float32)
    cam = np.asarray(orig_cam, dtype=np.float32)
    sx, sy, tx, ty = cam[..., 0:1], cam[..., 1:2], cam[..., 2:3], cam[..., 3:4]
    shape = np.broadcast_shapes(verts.shape, cam.shape[:-1] + (3,))
    out = np.empty(shape, dtype=np.float32) if out is None else out
    if out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out must be {shape} float32, got {out.shape} {out.dtype}")
    out[..., 0:1] = (sx * (verts[..., 0:1] + tx) + np.float32(1.0)) * np.float32(0.5 * width)
    out[..., 1:2] = (sy * (verts[..., 1:2] + ty) + np.float32(1.0)) * np.float32(0.5 * height)
    out[..., 2:3] = verts[..., 2:3]
    return out


def camera_depth(orig_cam: np.ndarray, width: int, height: int) -> float:
    """Distance of a weak-perspective subject from the camera, for ordering several people.

    A weak-perspective camera maps 1 m to ``sx * W / 2`` pixels; a pinhole camera of focal ``f``
    pixels does so at distance ``Z = 2 f / (sx W)``. With one nominal focal for the whole image,
    ``f = max(W, H)`` (a 53-degree field of view), people compare correctly by size on screen:
    the larger ``sx``, the nearer. The value is invariant to resizing the image.

    Args:
        orig_cam: ``(4,)`` ``(sx, sy, tx, ty)``.
        width, height: image size in pixels.
    Returns:
        depth in metres (``inf`` for a non-positive scale).
    """
    sx = float(np.asarray(orig_cam, dtype=np.float64).reshape(4)[0])
    return 2.0 * max(width, height) / (sx * width) if sx > 0 else float("inf")
