"""Compiled (numba) inner loops of the renderer: vertex lighting, z-buffer rasterisation, shading.

Each kernel is plain Python over numpy arrays, compiled by numba on first use (``nogil``, so
two panels or the encoder thread can run alongside) and cached outside the repository, under
``$XDG_CACHE_HOME/glot-studio/numba`` (default ``~/.cache``): the first run after an install
compiles for a few seconds, later processes load the machine code in well under a second.
No fast-math: float results are IEEE-exact, so output is the same on every run and machine.

Conventions (see :mod:`glot.render.rasterizer`): screen vertices are ``(u, v, depth)`` with
pixel centres at ``i + 0.5``; a pixel is covered when its centre lies inside the triangle
(barycentric tolerance ``INSIDE_EPS``); the z-buffer keeps the smallest depth, ties going to
the smaller fragment id ``person * F + face``, so the result does not depend on drawing order.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

INSIDE_EPS = -1e-5  # barycentric tolerance: no cracks between triangles sharing an edge
EMPTY = -1  # id-buffer value of a pixel no triangle covers


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$XDG_CACHE_HOME/glot-studio/numba`` or ``~/.cache/...``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "glot-studio" / "numba"


# ----------------------------------------------------------------------------- kernels (pure Python)

def _vertex_lambert(verts, faces, active, out):
    """Headlight Lambert term per vertex: ``|n_z| / |n|`` of the area-weighted vertex normal.

    verts ``(P, V, 3)`` f32, faces ``(F, 3)`` i32, active ``(P,)`` bool (people to light),
    out ``(P, V)`` f32 (written for the active people).
    """
    n_people, n_verts = verts.shape[0], verts.shape[1]
    acc = np.zeros((n_verts, 3), np.float64)
    for p in range(n_people):
        if not active[p]:
            continue
        acc[:] = 0.0
        for f in range(faces.shape[0]):
            a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
            e1x = verts[p, b, 0] - verts[p, a, 0]
            e1y = verts[p, b, 1] - verts[p, a, 1]
            e1z = verts[p, b, 2] - verts[p, a, 2]
            e2x = verts[p, c, 0] - verts[p, a, 0]
            e2y = verts[p, c, 1] - verts[p, a, 1]
            e2z = verts[p, c, 2] - verts[p, a, 2]
            nx = np.float64(e1y * e2z - e1z * e2y)
            ny = np.float64(e1z * e2x - e1x * e2z)
            nz = np.float64(e1x * e2y - e1y * e2x)
            for k in (a, b, c):
                acc[k, 0] += nx
                acc[k, 1] += ny
                acc[k, 2] += nz
        for i in range(n_verts):
            norm = math.sqrt(acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2])
            out[p, i] = abs(acc[i, 2]) / max(norm, 1e-12)


def _face_lambert(verts, faces, active, out):
    """Headlight Lambert term per face ``|n_z| / |n|``: verts ``(P, V, 3)``, out ``(P, F)``."""
    for p in range(verts.shape[0]):
        if not active[p]:
            continue
        for f in range(faces.shape[0]):
            a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
            e1x = np.float64(verts[p, b, 0] - verts[p, a, 0])
            e1y = np.float64(verts[p, b, 1] - verts[p, a, 1])
            e1z = np.float64(verts[p, b, 2] - verts[p, a, 2])
            e2x = np.float64(verts[p, c, 0] - verts[p, a, 0])
            e2y = np.float64(verts[p, c, 1] - verts[p, a, 1])
            e2z = np.float64(verts[p, c, 2] - verts[p, a, 2])
            nx = e1y * e2z - e1z * e2y
            ny = e1z * e2x - e1x * e2z
            nz = e1x * e2y - e1y * e2x
            out[p, f] = abs(nz) / max(math.sqrt(nx * nx + ny * ny + nz * nz), 1e-12)


SHADE_NONE, SHADE_VERTEX, SHADE_FACE = 0, 1, 2  # what ``lit`` holds in :func:`_rasterize`


def _rasterize(screen, faces, lit, shade_mode, cull, bx0, by0, zbuf, ibuf, sbuf):
    """Z-buffer every person's triangles into one buffer covering pixels ``[by0, by0+h) x [bx0, bx0+w)``.

    screen ``(P, V, 3)`` f32 ``(u, v, depth)``; faces ``(F, 3)`` i32; lit ``(P, V)`` vertex
    (``SHADE_VERTEX``: Gouraud) or ``(P, F)`` face (``SHADE_FACE``) Lambert terms, unused for
    ``SHADE_NONE``; cull: skip back faces (signed pixel area >= 0). Updated in place where a
    fragment wins: zbuf ``(h, w)`` f32 depth (init +inf), ibuf ``(h, w)`` i32 fragment id
    ``p * F + f`` (init -1), sbuf ``(h, w)`` f32 Lambert term at the pixel centre.
    """
    h, w = zbuf.shape
    n_faces, n_verts = faces.shape[0], screen.shape[1]
    # Per vertex, the pixel-centre columns/rows at or right of / left of it (ceil and floor are
    # monotonic, so a face's box is the min/max over its corners); NaN vertices give empty boxes.
    cx = np.empty(n_verts, np.int64)
    fx = np.empty(n_verts, np.int64)
    cy = np.empty(n_verts, np.int64)
    fy = np.empty(n_verts, np.int64)
    # the person's vertices (and Lambert terms) in float64, contiguous: each is read by ~6 faces
    ud = np.empty(n_verts, np.float64)
    vd = np.empty(n_verts, np.float64)
    zd = np.empty(n_verts, np.float64)
    ld = np.zeros(n_verts, np.float64)
    big = 1 << 40
    for p in range(screen.shape[0]):
        for i in range(n_verts):
            u, v = np.float64(screen[p, i, 0]), np.float64(screen[p, i, 1])
            ud[i], vd[i], zd[i] = u, v, np.float64(screen[p, i, 2])
            if shade_mode == 1:
                ld[i] = np.float64(lit[p, i])
            if abs(u) < 1e9 and abs(v) < 1e9:  # finite and sane
                cx[i], fx[i] = math.ceil(u - 0.5), math.floor(u - 0.5)
                cy[i], fy[i] = math.ceil(v - 0.5), math.floor(v - 0.5)
            else:
                cx[i], fx[i], cy[i], fy[i] = big, -big, big, -big
        for f in range(n_faces):
            a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
            # Inclusive box of the pixel centres the triangle can cover, clipped to the buffer.
            x0 = max(min(cx[a], cx[b], cx[c]), bx0)
            x1 = min(max(fx[a], fx[b], fx[c]), bx0 + w - 1)
            if x1 < x0:
                continue
            y0 = max(min(cy[a], cy[b], cy[c]), by0)
            y1 = min(max(fy[a], fy[b], fy[c]), by0 + h - 1)
            if y1 < y0:
                continue
            u0, v0 = ud[a], vd[a]
            u1, v1 = ud[b], vd[b]
            u2, v2 = ud[c], vd[c]
            area2 = (u1 - u0) * (v2 - v0) - (v1 - v0) * (u2 - u0)
            if cull and not (area2 < -1e-12):  # back face or degenerate
                continue
            if not (abs(area2) > 1e-12):
                continue
            inv = 1.0 / area2
            ox, oy = x0 + 0.5, y0 + 0.5
            # b_i(x, y) = s_i + ca_i * dx + cb_i * dy: the edge function of edge (j, k) / area.
            s0 = ((u2 - u1) * (oy - v1) - (v2 - v1) * (ox - u1)) * inv
            s1 = ((u0 - u2) * (oy - v2) - (v0 - v2) * (ox - u2)) * inv
            s2 = ((u1 - u0) * (oy - v0) - (v1 - v0) * (ox - u0)) * inv
            z0, z1, z2 = zd[a], zd[b], zd[c]
            if shade_mode == 1:
                l0, l1, l2 = ld[a], ld[b], ld[c]
            elif shade_mode == 2:
                l0 = l1 = l2 = np.float64(lit[p, f])
            else:
                l0 = l1 = l2 = 0.0
            fid = np.int32(p * n_faces + f)
            if x0 == x1 and y0 == y1:  # one pixel centre (most faces are under a pixel): no steps,
                # the same sums as the stepped form at dx = dy = 0
                if (s0 >= INSIDE_EPS) & (s1 >= INSIDE_EPS) & (s2 >= INSIDE_EPS):  # one branch, not three
                    z = np.float32(s0 * z0 + s1 * z1 + s2 * z2)
                    row, col = y0 - by0, x0 - bx0
                    old = zbuf[row, col]
                    if z < old or (z == old and fid < ibuf[row, col]):
                        zbuf[row, col] = z
                        ibuf[row, col] = fid
                        sbuf[row, col] = np.float32(s0 * l0 + s1 * l1 + s2 * l2)
                continue
            ca0, cb0 = (v1 - v2) * inv, (u2 - u1) * inv
            ca1, cb1 = (v2 - v0) * inv, (u0 - u2) * inv
            ca2, cb2 = (v0 - v1) * inv, (u1 - u0) * inv
            za = ca0 * z0 + ca1 * z1 + ca2 * z2
            zb = cb0 * z0 + cb1 * z1 + cb2 * z2
            zs = s0 * z0 + s1 * z1 + s2 * z2
            la = ca0 * l0 + ca1 * l1 + ca2 * l2
            lb = cb0 * l0 + cb1 * l1 + cb2 * l2
            ls = s0 * l0 + s1 * l1 + s2 * l2
            for y in range(y0, y1 + 1):
                dy = y - y0
                r0, r1, r2 = s0 + cb0 * dy, s1 + cb1 * dy, s2 + cb2 * dy
                row = y - by0
                entered = False
                for x in range(x0, x1 + 1):
                    dx = x - x0
                    if not ((r0 + ca0 * dx >= INSIDE_EPS) & (r1 + ca1 * dx >= INSIDE_EPS) &
                            (r2 + ca2 * dx >= INSIDE_EPS)):
                        if entered:  # each test is monotonic in dx (so is rounding): the row's
                            break  # covered pixels are one run, and it has ended
                        continue
                    entered = True
                    z = np.float32(zs + zb * dy + za * dx)
                    col = x - bx0
                    old = zbuf[row, col]
                    if z < old or (z == old and fid < ibuf[row, col]):
                        zbuf[row, col] = z
                        ibuf[row, col] = fid
                        sbuf[row, col] = np.float32(ls + lb * dy + la * dx)


def _shade_blend(image, col_off, bx0, by0, ibuf, sbuf, n_faces, colors, ambient, diffuse, alpha, counts):
    """Alpha-blend the shaded visible surface into ``image[by0 + r, col_off + bx0 + c]`` in place.

    image ``(H, W', 3)`` u8 (the panel starts at column ``col_off``); ibuf, sbuf ``(h, w)`` from
    :func:`_rasterize`; colors ``(P, 3)`` f32 in 0..255; counts ``(P,)`` i64 += visible pixels
    per person. Per pixel, in float32:
    ``rgb = min((ambient + diffuse * clip(lam, 0, 1)) * color, 255)`` and
    ``out = floor(alpha * rgb + (1 - alpha) * bg + 0.5)``, clipped to 0..255.
    """
    h, w = ibuf.shape
    n_people = colors.shape[0]
    a32 = np.float32(alpha)
    keep = np.float32(1.0) - a32
    amb, dif = np.float32(ambient), np.float32(diffuse)
    for r in range(h):
        y = by0 + r
        for c in range(w):
            fid = ibuf[r, c]
            if fid < 0:
                continue
            p = 0
            while p + 1 < n_people and fid >= (p + 1) * n_faces:  # person of the fragment (P is small)
                p += 1
            counts[p] += 1
            lam = min(max(sbuf[r, c], np.float32(0.0)), np.float32(1.0))
            shade = amb + dif * lam
            x = col_off + bx0 + c
            for k in range(3):
                rgb = min(shade * colors[p, k], np.float32(255.0))
                v = a32 * rgb + keep * np.float32(image[y, x, k]) + np.float32(0.5)
                image[y, x, k] = np.uint8(min(max(v, np.float32(0.0)), np.float32(255.0)))


# ----------------------------------------------------------------------------- compilation

def _cached_dispatcher(py_func, jit):
    """``jit(py_func)`` with numba's on-disk cache redirected to :func:`cache_dir` (no cache if
    that folder is unusable: the kernels are then compiled once per process)."""
    from numba.core import caching

    root = str(cache_dir())

    class _Locator(caching.UserProvidedCacheLocator):
        def __init__(self, func, py_file):  # noqa: D401 (numba's locator protocol)
            self._py_file = py_file
            self._lineno = func.__code__.co_firstlineno
            self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, func, py_file):
            if not os.path.exists(py_file):
                return None
            self = cls(func, py_file)
            try:
                self.ensure_cache_path()
            except OSError:
                return None
            return self

    class _Impl(caching.CompileResultCacheImpl):
        _locator_classes = [_Locator]

    class _Cache(caching.FunctionCache):
        _impl_class = _Impl

    disp = jit(py_func)
    try:
        disp._cache = _Cache(py_func)
    except RuntimeError:  # no usable cache folder
        pass
    return disp


@functools.lru_cache(maxsize=1)
def kernels() -> SimpleNamespace:
    """The compiled kernels (compiled or loaded from the cache at the first call of each)."""
    import numba

    jit = numba.njit(nogil=True, error_model="numpy")
    funcs = (_vertex_lambert, _face_lambert, _rasterize, _shade_blend)
    return SimpleNamespace(**{fn.__name__.lstrip("_"): _cached_dispatcher(fn, jit) for fn in funcs})
