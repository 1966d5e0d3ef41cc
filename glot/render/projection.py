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

__all__ = ["project_orig_cam"]


def project_orig_cam(verts: np.ndarray, orig_cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """Project camera-frame points to pixels with the original-image camera.

    Args:
        verts: ``(..., 3)`` points ``(X, Y, Z)`` in the camera-aligned SMPL frame (metres).
        orig_cam: ``(4,)`` ``(sx, sy, tx, ty)``.
        width, height: image size in pixels.
    Returns:
        ``(..., 3)`` float32 ``(u, v, depth)``: continuous pixel coordinates (pixel centres at
        ``i + 0.5``) and depth ``Z`` (larger = farther).
    """
    verts = np.asarray(verts, dtype=np.float32)
    sx, sy, tx, ty = (float(c) for c in np.asarray(orig_cam, dtype=np.float64).reshape(4))
    out = np.empty(verts.shape, dtype=np.float32)
    out[..., 0] = (sx * (verts[..., 0] + tx) + 1.0) * (0.5 * width)
    out[..., 1] = (sy * (verts[..., 1] + ty) + 1.0) * (0.5 * height)
    out[..., 2] = verts[..., 2]
    return out
