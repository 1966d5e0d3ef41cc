"""Synthetic closed meshes for tests, benchmarks and demos without SMPL files.

:func:`person_mesh` is a genus-0 "standing person" surface (head, torso with arms, two legs) in
the camera-aligned SMPL frame (y down, metres, centred at the pelvis). With the default
``82 x 84`` grid it has SMPL's size exactly: a closed genus-0 triangle mesh with ``V`` vertices
has ``2V - 4`` faces, so ``82 * 84 + 2 = 6890`` vertices give ``13776`` faces.
"""
from __future__ import annotations

import numpy as np

__all__ = ["grid_sphere_faces", "person_mesh"]


def grid_sphere_faces(n_rings: int, n_segments: int) -> np.ndarray:
    """Faces of a closed ring grid: vertex 0 is the top pole, then ``n_rings`` rings of
    ``n_segments`` vertices top to bottom, then the bottom pole.

    Returns:
        ``(2 * n_rings * n_segments, 3)`` int64 faces, counter-clockwise seen from outside for
        rings ordered along +y with angle increasing from +x towards +z.
    """
    r, s = n_rings, n_segments
    ring = lambda i: 1 + i * s + np.arange(s)  # noqa: E731 (indices of ring i)
    nxt = lambda a: np.roll(a, -1)  # noqa: E731
    top = np.stack([np.zeros(s, np.int64), ring(0), nxt(ring(0))], axis=1)
    bottom_pole = 1 + r * s
    bottom = np.stack([np.full(s, bottom_pole), nxt(ring(r - 1)), ring(r - 1)], axis=1)
    bands = []
    for i in range(r - 1):
        a, b = ring(i), ring(i + 1)
        bands.append(np.stack([a, b, nxt(a)], axis=1))
        bands.append(np.stack([nxt(a), b, nxt(b)], axis=1))
    return np.concatenate([top, *bands, bottom]).astype(np.int64)


def person_mesh(n_rings: int = 82, n_segments: int = 84, height: float = 1.7) -> tuple[np.ndarray, np.ndarray]:
    """A person-shaped closed mesh, standing upright in the camera frame (head at -y).

    Args:
        n_rings, n_segments: grid resolution; vertices ``n_rings * n_segments + 2``.
        height: top-to-bottom extent in metres.
    Returns:
        verts ``(V, 3)`` float32 (y down, centred at the pelvis), faces ``(F, 3)`` int64.
    """
    t = (np.arange(n_rings) + 0.5) / n_rings  # 0 = top of head, 1 = feet
    # (t, half-width, half-depth) key points of the silhouette, relative to the height.
    keys = np.array([[0.00, 0.02, 0.02], [0.05, 0.060, 0.065], [0.11, 0.055, 0.060], [0.14, 0.035, 0.035],
                     [0.18, 0.140, 0.070], [0.30, 0.150, 0.075], [0.45, 0.140, 0.070], [0.52, 0.120, 0.070],
                     [0.75, 0.100, 0.050], [0.97, 0.080, 0.045], [1.00, 0.02, 0.02]])
    half_w = np.interp(t, keys[:, 0], keys[:, 1]) * height
    half_d = np.interp(t, keys[:, 0], keys[:, 2]) * height
    theta = np.arange(n_segments) / n_segments * 2 * np.pi
    # Below the crotch the cross-section pinches in the middle into two legs.
    pinch = np.clip((t - 0.50) / 0.15, 0, 1)[:, None] * 0.85 * np.sin(theta)[None, :] ** 2
    x = half_w[:, None] * np.cos(theta)[None, :]
    z = half_d[:, None] * np.sin(theta)[None, :] * (1 - pinch)
    y = np.broadcast_to(t[:, None] * height, x.shape)
    ring_verts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, 0]], ring_verts, [[0, height, 0]]])
    verts[:, 1] -= 0.5 * height  # pelvis at the origin, head at -y (image up)
    # Rings run along +y and theta from +x to +z: CCW from outside in the right-handed frame.
    return verts.astype(np.float32), grid_sphere_faces(n_rings, n_segments)
