"""CPU triangle rasterisation with a z-buffer (no OpenGL): one buffer for any number of meshes.

Triangles arrive in screen space ``(u, v, depth)`` (see :mod:`glot.render.projection`); the
projection is orthographic in depth, so depth and barycentrics are linear in ``(u, v)``.

A pixel ``(row y, column x)`` is covered by a triangle when its centre ``(x + 0.5, y + 0.5)``
lies inside it (barycentric tolerance 1e-5, so triangles sharing an edge leave no cracks). The
z-buffer keeps the smallest depth; ties go to the smaller fragment id ``mesh * F + face``, so the
nearest surface wins whatever the drawing order, and several people drawn into one buffer
occlude each other exactly per pixel. The inner loops are compiled with numba
(:mod:`glot.render._kernels`); the buffer spans only the pixel window the meshes project into.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glot.render._kernels import EMPTY, SHADE_FACE, SHADE_NONE, SHADE_VERTEX, kernels

__all__ = ["Fragments", "Scratch", "ZBuffer", "rasterize", "rasterize_people", "screen_boxes"]


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


@dataclass(frozen=True)
class ZBuffer:
    """The nearest surface of several meshes over the pixel window ``[y0, y0+h) x [x0, x0+w)``.

    Attributes:
        x0, y0: window origin in image pixels.
        ids: ``(h, w)`` int32 fragment id ``mesh * num_faces + face`` of the visible triangle, -1 where empty.
        depth: ``(h, w)`` float32 depth of the visible surface (+inf where empty).
        shade: ``(h, w)`` float32 interpolated ``lit`` value of the visible surface (0 without ``lit``).
        num_faces: faces per mesh.
        width, height: image size.
    """

    x0: int
    y0: int
    ids: np.ndarray
    depth: np.ndarray
    shade: np.ndarray
    num_faces: int
    width: int
    height: int

    def mesh_mask(self, mesh: int) -> np.ndarray:
        """``(H, W)`` bool: pixels where mesh ``mesh`` is the visible surface."""
        m = np.zeros((self.height, self.width), dtype=bool)
        h, w = self.ids.shape
        ids = self.ids
        m[self.y0:self.y0 + h, self.x0:self.x0 + w] = (ids >= mesh * self.num_faces) & \
            (ids < (mesh + 1) * self.num_faces)
        return m


class Scratch:
    """Reusable C-contiguous arrays (fresh multi-megabyte buffers cost page faults every frame).

    ``get(name, shape, dtype)`` returns a view of a flat buffer grown as needed; the contents are
    undefined and valid until the next ``get`` of the same name. Not thread-safe: one per thread.
    """

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        n = int(np.prod(shape))
        buf = self._flat.get(name)
        if buf is None or buf.size < n or buf.dtype != np.dtype(dtype):
            buf = self._flat[name] = np.empty(max(n, 1), dtype=dtype)
        return buf[:n].reshape(shape)


def screen_boxes(screens: np.ndarray) -> np.ndarray:
    """``(P, V, 3)`` screen points -> ``(P, 4)`` float32 ``(u_min, v_min, u_max, v_max)`` of the
    finite points of each mesh (NaN where a mesh has none)."""
    uv = screens[..., :2]
    # per component: numpy reduces a strided (P, V) view ~25x faster than the (P, V, 2) one
    lo = np.stack([screens[:, :, k].min(axis=1) for k in range(2)], axis=1)  # (P, 2); NaN if any is
    hi = np.stack([screens[:, :, k].max(axis=1) for k in range(2)], axis=1)
    bad = ~(np.isfinite(lo).all(1) & np.isfinite(hi).all(1))
    for i in np.flatnonzero(bad):  # rare: missing vertices
        pts = uv[i][np.isfinite(uv[i]).all(1)]
        lo[i], hi[i] = (pts.min(0), pts.max(0)) if len(pts) else (np.nan, np.nan)
    return np.concatenate([lo, hi], axis=1).astype(np.float32)


def _window(boxes: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Inclusive pixel window ``(x0, y0, x1, y1)`` of the centres the boxes can cover, in the image."""
    boxes = boxes[np.isfinite(boxes).all(1)]
    if boxes.size == 0:
        return 0, 0, -1, -1
    lo, hi = boxes[:, :2].min(0), boxes[:, 2:].max(0)
    x0, y0 = max(int(np.ceil(lo[0] - 0.5)), 0), max(int(np.ceil(lo[1] - 0.5)), 0)
    x1, y1 = min(int(np.floor(hi[0] - 0.5)), width - 1), min(int(np.floor(hi[1] - 0.5)), height - 1)
    return x0, y0, x1, y1


def rasterize_people(screens: np.ndarray, faces: np.ndarray, width: int, height: int,
                     cull_back_faces: bool = True, lit: np.ndarray | None = None,
                     boxes: np.ndarray | None = None, scratch: Scratch | None = None) -> ZBuffer:
    """Rasterise ``P`` meshes of one topology into one z-buffer.

    Args:
        screens: ``(P, V, 3)`` ``(u, v, depth)`` per vertex and mesh (pixel centres at ``i + 0.5``;
            depths of different meshes must be comparable, e.g. camera distances).
        faces: ``(F, 3)`` vertex indices shared by all meshes.
        width, height: image size in pixels.
        cull_back_faces: drop faces seen from behind (exact for closed meshes, and faster).
        lit: optional per-vertex ``(P, V)`` or per-face ``(P, F)`` values (Lambert terms),
            interpolated barycentrically at the visible pixel centres into ``ZBuffer.shade``.
        boxes: ``screen_boxes(screens)`` if already computed.
        scratch: reuse its buffers for the z-buffer (the result is then valid until its next use).
    Returns:
        :class:`ZBuffer` over the window the meshes project into (empty ``(0, 0)`` arrays if none).
    """
    screens = np.ascontiguousarray(screens, dtype=np.float32)
    if screens.ndim != 3 or screens.shape[2] != 3:
        raise ValueError(f"screens must be (P, V, 3), got {screens.shape}")
    faces = np.ascontiguousarray(faces, dtype=np.int32)
    x0, y0, x1, y1 = _window(screen_boxes(screens) if boxes is None else boxes, width, height)
    h, w = max(y1 - y0 + 1, 0), max(x1 - x0 + 1, 0)
    if lit is None:
        mode, lit = SHADE_NONE, np.zeros((1, 1), np.float32)
    else:
        lit = np.ascontiguousarray(lit, dtype=np.float32)
        mode = SHADE_VERTEX if lit.shape == screens.shape[:2] else SHADE_FACE
        if lit.shape != (len(screens), len(faces)) and mode == SHADE_FACE:
            raise ValueError(f"lit must be (P, V) or (P, F), got {lit.shape}")
    scratch = Scratch() if scratch is None else scratch
    depth = scratch.get("depth", (h, w), np.float32)
    ids = scratch.get("ids", (h, w), np.int32)
    shade = scratch.get("shade", (h, w), np.float32)
    depth.fill(np.inf)
    ids.fill(EMPTY)
    shade.fill(0.0)  # (only read where ids >= 0, but keep the documented zeros elsewhere)
    if h and w and len(faces):
        kernels().rasterize(screens, faces, lit, mode, bool(cull_back_faces), x0, y0, depth, ids, shade)
    return ZBuffer(x0, y0, ids, depth, shade, len(faces), int(width), int(height))


def rasterize(screen: np.ndarray, faces: np.ndarray, width: int, height: int,
              cull_back_faces: bool = True) -> Fragments:
    """Rasterise one triangle mesh into per-pixel visible-surface fragments.

    Front faces are those whose vertices run counter-clockwise for a viewer looking along +z
    (the outward normal of a right-handed, CCW mesh points at the camera); in ``(u, v)`` pixel
    coordinates (v down) their signed area is negative.

    Args:
        screen: ``(V, 3)`` ``(u, v, depth)`` per vertex; pixel centres are at ``i + 0.5``.
        faces: ``(F, 3)`` vertex indices.
        width, height: image size in pixels.
        cull_back_faces: drop faces seen from behind (exact for closed meshes, and faster).
    Returns:
        :class:`Fragments` of the nearest surface at every covered pixel (row-major order).
    """
    screen = np.asarray(screen, dtype=np.float32)
    zb = rasterize_people(screen[None], faces, width, height, cull_back_faces)
    rows, cols = np.nonzero(zb.ids != EMPTY)
    face = zb.ids[rows, cols].astype(np.int64)
    ys, xs = (rows + zb.y0).astype(np.int64), (cols + zb.x0).astype(np.int64)
    tri = screen[np.asarray(faces, dtype=np.int64)[face]].astype(np.float64)  # (K, 3, 3)
    u, v = tri[..., 0], tri[..., 1]
    px, py = xs + 0.5, ys + 0.5
    area2 = (u[:, 1] - u[:, 0]) * (v[:, 2] - v[:, 0]) - (v[:, 1] - v[:, 0]) * (u[:, 2] - u[:, 0])
    b0 = ((u[:, 2] - u[:, 1]) * (py - v[:, 1]) - (v[:, 2] - v[:, 1]) * (px - u[:, 1])) / area2
    b1 = ((u[:, 0] - u[:, 2]) * (py - v[:, 2]) - (v[:, 0] - v[:, 2]) * (px - u[:, 2])) / area2
    bary = np.stack([b0, b1, 1.0 - b0 - b1], axis=1).astype(np.float32)
    return Fragments(ys, xs, face, bary, zb.depth[rows, cols], int(height), int(width))
