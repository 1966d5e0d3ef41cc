"""Vectorised CPU triangle rasterisation with a z-buffer (no OpenGL).

Triangles arrive in screen space ``(u, v, depth)`` (see :mod:`glot.render.projection`); the
projection is orthographic in depth, so depth and barycentrics are linear in ``(u, v)``.

How it stays fast in numpy: each triangle's pixel bounding box is enumerated as a small
``kh x kw`` grid of candidate pixel centres (``kh``, ``kw`` rounded up to powers of two, so all
triangles of one size class are evaluated in one batch); barycentrics and depth are evaluated as
linear functions relative to the box origin (well conditioned in float32); the depth test is a
single ``np.minimum.at`` on int64 keys ``(quantised depth << 31) | triangle``, so the nearest
surface wins whatever the triangle order (ties go to the lower triangle index).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Fragments", "rasterize"]

_INSIDE_EPS = -1e-5  # barycentric tolerance: no cracks between triangles sharing an edge
_DEPTH_LEVELS = 1 << 30  # depth quantisation for the int64 z-buffer key
_TRI_BITS = 31


@dataclass(frozen=True)
class Fragments:
    """The visible surface: one sample per covered pixel (``K`` pixels).

    Attributes:
        ys, xs: ``(K,)`` int64 pixel row / column.
        face: ``(K,)`` int64 index into the ``faces`` given to :func:`rasterize`.
        bary: ``(K, 3)`` float32 barycentric weights of the face's three vertices at the pixel centre.
        depth: ``(K,)`` float32 depth of the visible surface (smallest depth wins).
        height, width: image size.
    """

    ys: np.ndarray
    xs: np.ndarray
    face: np.ndarray
    bary: np.ndarray
    depth: np.ndarray
    height: int
    width: int

    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: True where the mesh covers the pixel."""
        m = np.zeros((self.height, self.width), dtype=bool)
        m[self.ys, self.xs] = True
        return m


def _empty(height: int, width: int) -> Fragments:
    z = np.zeros(0, dtype=np.int64)
    return Fragments(z, z, z, np.zeros((0, 3), np.float32), np.zeros(0, np.float32), height, width)


def _next_pow2_exponent(n: np.ndarray) -> np.ndarray:
    """Smallest ``k`` with ``2**k >= n`` for ``(N,)`` ints ``n >= 1``."""
    return np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64)


def rasterize(screen: np.ndarray, faces: np.ndarray, width: int, height: int,
              cull_back_faces: bool = True) -> Fragments:
    """Rasterise a triangle mesh into per-pixel visible-surface fragments.

    A pixel ``(row y, column x)`` is covered by a triangle when its centre ``(x + 0.5, y + 0.5)``
    lies inside it. Front faces are those whose vertices run counter-clockwise for a viewer
    looking along +z (the outward normal of a right-handed, CCW mesh points at the camera); in
    ``(u, v)`` pixel coordinates (v down) their signed area is negative.

    Args:
        screen: ``(V, 3)`` ``(u, v, depth)`` per vertex; pixel centres are at ``i + 0.5``.
        faces: ``(F, 3)`` vertex indices.
        width, height: image size in pixels.
        cull_back_faces: drop faces seen from behind (exact for closed meshes, and faster).
    Returns:
        :class:`Fragments` of the nearest surface at every covered pixel.
    """
    screen = np.asarray(screen, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    tri = screen[faces]  # (F, 3, 3)
    u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]  # (F, 3) each
    area2 = (u[:, 1] - u[:, 0]) * (v[:, 2] - v[:, 0]) - (v[:, 1] - v[:, 0]) * (u[:, 2] - u[:, 0])

    # Pixel bounding boxes (inclusive) of the centres a triangle can cover, clipped to the image.
    x0 = np.maximum(np.ceil(u.min(1) - 0.5), 0).astype(np.int64)
    x1 = np.minimum(np.floor(u.max(1) - 0.5), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(v.min(1) - 0.5), 0).astype(np.int64)
    y1 = np.minimum(np.floor(v.max(1) - 0.5), height - 1).astype(np.int64)
    keep = (x1 >= x0) & (y1 >= y0) & np.isfinite(area2) & (np.abs(area2) > 1e-12)
    keep &= (area2 < 0) if cull_back_faces else True
    ids = np.flatnonzero(keep)  # kept triangle -> original face index
    if ids.size == 0:
        return _empty(height, width)
    u, v, z, area2 = u[ids], v[ids], z[ids], area2[ids]
    x0, x1, y0, y1 = x0[ids], x1[ids], y0[ids], y1[ids]

    # Barycentric b_i = A_i * x + B_i * y + C_i, written relative to the first candidate centre
    # (x0 + 0.5, y0 + 0.5): b_i = base_i + A_i * dx + B_i * dy, dx/dy small integers.
    ox, oy = x0 + 0.5, y0 + 0.5
    coef_a = np.empty((ids.size, 3))
    coef_b = np.empty((ids.size, 3))
    base = np.empty((ids.size, 3))
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3  # b_i is the edge function of edge (j, k)
        coef_a[:, i] = -(v[:, k] - v[:, j]) / area2
        coef_b[:, i] = (u[:, k] - u[:, j]) / area2
        base[:, i] = ((u[:, k] - u[:, j]) * (oy - v[:, j]) - (v[:, k] - v[:, j]) * (ox - u[:, j])) / area2
    za = (coef_a * z).sum(1)
    zb = (coef_b * z).sum(1)
    zbase = (base * z).sum(1)

    # Batch triangles by power-of-two box size.
    ew = _next_pow2_exponent(x1 - x0 + 1)
    eh = _next_pow2_exponent(y1 - y0 + 1)
    size_class = ew * 64 + eh
    order = np.argsort(size_class, kind="stable")
    bounds = np.flatnonzero(np.diff(size_class[order])) + 1
    pix_l, dep_l, tri_l = [], [], []
    f32 = np.float32
    for group in np.split(order, bounds):
        kw, kh = 1 << int(ew[group[0]]), 1 << int(eh[group[0]])
        dy, dx = np.divmod(np.arange(kw * kh, dtype=np.int64), kw)  # (kh*kw,) offsets
        dxf, dyf = dx.astype(f32), dy.astype(f32)
        inside = (dx[None, :] <= (x1 - x0)[group, None]) & (dy[None, :] <= (y1 - y0)[group, None])
        for i in range(3):
            b = base[group, i, None].astype(f32) + coef_a[group, i, None].astype(f32) * dxf + \
                coef_b[group, i, None].astype(f32) * dyf
            inside &= b >= _INSIDE_EPS
        t, c = np.nonzero(inside)  # (n,) triangle-in-group, candidate offset
        tg = group[t]
        pix_l.append((y0[tg] + dy[c]) * width + x0[tg] + dx[c])
        dep_l.append(zbase[tg] + za[tg] * dx[c] + zb[tg] * dy[c])
        tri_l.append(tg)
    pix = np.concatenate(pix_l)
    if pix.size == 0:
        return _empty(height, width)
    dep = np.concatenate(dep_l)
    tri_idx = np.concatenate(tri_l)

    # z-buffer over the candidates' pixel range: min of (quantised depth, triangle) keys.
    zmin, zmax = dep.min(), dep.max()
    scale = (_DEPTH_LEVELS - 1) / max(zmax - zmin, 1e-12)
    key = ((dep - zmin) * scale).astype(np.int64) << _TRI_BITS | tri_idx
    pmin = int(pix.min())
    buf = np.full(int(pix.max()) - pmin + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(buf, pix - pmin, key)
    covered = np.flatnonzero(buf != np.iinfo(np.int64).max)
    win = buf[covered] & ((1 << _TRI_BITS) - 1)
    ys, xs = np.divmod(covered + pmin, width)

    dx, dy = xs - x0[win], ys - y0[win]
    bary = base[win] + coef_a[win] * dx[:, None] + coef_b[win] * dy[:, None]
    depth = zbase[win] + za[win] * dx + zb[win] * dy
    return Fragments(ys, xs, ids[win], bary.astype(np.float32), depth.astype(np.float32), height, width)
