"""CPU mesh renderer: body meshes over video frames with GLoT's original-image camera.

Shading is Lambert with a headlight (light at the camera, shining along +z) plus ambient; smooth
(Gouraud: per-vertex intensity interpolated with barycentrics) or flat (per-face). Meshes are
alpha-blended over the input frame; pixels outside the meshes are left untouched. Several people
share one z-buffer (:meth:`MeshRenderer.render_people`), so the nearest surface wins per pixel:
"back to front by depth", done exactly even where people overlap or touch.
Images are RGB ``uint8``; colours follow :mod:`glot.render.colors`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from glot.render._kernels import kernels
from glot.render.colors import Color, to_rgb01
from glot.render.labels import draw_tag
from glot.render.projection import camera_depth, project_orig_cam
from glot.render.rasterizer import Fragments, Scratch, rasterize, rasterize_people, screen_boxes

__all__ = ["MeshRenderer", "PersonMesh", "face_normals", "vertex_normals"]

DEFAULT_COLOR: tuple[float, float, float] = (0.65, 0.74, 0.86)


def face_normals(verts: np.ndarray, faces: np.ndarray, normalize: bool = True) -> np.ndarray:
    """``(V, 3)`` verts, ``(F, 3)`` faces -> ``(F, 3)`` normals (right-hand rule, unit if ``normalize``,
    else with length twice the face area)."""
    tri = verts[faces]  # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if normalize:
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(V, 3)`` unit vertex normals: area-weighted mean of the adjacent face normals."""
    fn = face_normals(verts, faces, normalize=False)  # (F, 3)
    idx = faces.reshape(-1)  # (3F,)
    w = np.repeat(fn, 3, axis=0)  # (3F, 3): each face normal once per corner
    vn = np.stack([np.bincount(idx, weights=w[:, c], minlength=len(verts)) for c in range(3)], axis=1)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class PersonMesh:
    """One person to draw in a panel.

    Attributes:
        verts: ``(V, 3)`` camera-frame vertices (metres, body at the origin as the body model poses it).
        orig_cam: ``(4,)`` ``(sx, sy, tx, ty)`` original-image camera.
        color: mesh colour ``(r, g, b)``; None: the renderer's default (``overlay_frame`` picks
            ``person_shade(branch colour, track_id)``).
        label: small tag drawn above the person's topmost projected vertex; None for none.
        depth: distance added to every vertex depth, so people compare by distance; None:
            :func:`~glot.render.projection.camera_depth` of ``orig_cam``; 0 when ``verts`` already
            carry the camera translation.
        track_id: the person's id (picks the shade and the default label in ``overlay_frame``).
    """

    verts: np.ndarray
    orig_cam: np.ndarray
    color: Color | None = None
    label: str | None = None
    depth: float | None = None
    track_id: int = 0


PersonLike = Union[PersonMesh, Sequence]  # PersonMesh or (verts, orig_cam[, color[, label]])


def as_person(p: PersonLike) -> PersonMesh:
    """A :class:`PersonMesh` from itself or a ``(verts, orig_cam[, color[, label]])`` tuple."""
    return p if isinstance(p, PersonMesh) else PersonMesh(*p)


class MeshRenderer:
    """Render meshes of one fixed topology over frames of one size.

    Args:
        faces: ``(F, 3)`` vertex indices (SMPL: ``(13776, 3)``), counter-clockwise seen from outside.
        width, height: frame size in pixels.
        ambient, diffuse: shading weights (``ambient + diffuse`` = brightness of a face facing the camera).
        smooth: Gouraud shading with vertex normals; flat per-face shading otherwise.
        cull_back_faces: skip faces turned away from the camera (right for closed meshes such as
            SMPL; turn off for open or inconsistently wound meshes, which are then lit two-sided).
    """

    def __init__(self, faces: np.ndarray, width: int, height: int, ambient: float = 0.35,
                 diffuse: float = 0.65, smooth: bool = True, cull_back_faces: bool = True) -> None:
        self.faces = np.ascontiguousarray(faces, dtype=np.int64)
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"faces must be (F, 3), got {self.faces.shape}")
        self._faces32 = np.ascontiguousarray(self.faces, dtype=np.int32)
        self.width, self.height = int(width), int(height)
        self.ambient, self.diffuse = float(ambient), float(diffuse)
        self.smooth, self.cull_back_faces = smooth, cull_back_faces
        self._local = threading.local()  # per-thread Scratch: panels may be drawn concurrently

    def _scratch(self) -> Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = Scratch()
        return scratch

    # ------------------------------------------------------------------ one mesh
    def rasterize(self, verts: np.ndarray, orig_cam: np.ndarray) -> Fragments:
        """``(V, 3)`` camera-frame verts, ``(4,)`` ``(sx, sy, tx, ty)`` -> visible :class:`Fragments`."""
        screen = project_orig_cam(verts, orig_cam, self.width, self.height)
        return rasterize(screen, self.faces, self.width, self.height, self.cull_back_faces)

    def render_mask(self, verts: np.ndarray, orig_cam: np.ndarray) -> np.ndarray:
        """``(H, W)`` bool: pixels covered by the mesh."""
        return self.rasterize(verts, orig_cam).mask()

    def render(self, image: np.ndarray, verts: np.ndarray, orig_cam: np.ndarray,
               color: Color = DEFAULT_COLOR, alpha: float = 0.8) -> np.ndarray:
        """Alpha-blend one shaded mesh over a frame.

        Args:
            image: ``(H, W, 3)`` uint8 RGB frame (not modified).
            verts: ``(V, 3)`` camera-frame vertices (metres).
            orig_cam: ``(4,)`` ``(sx, sy, tx, ty)`` original-image camera.
            color: mesh colour ``(r, g, b)``.
            alpha: mesh opacity in ``[0, 1]``.
        Returns:
            ``(H, W, 3)`` uint8 frame; pixels outside the mesh equal the input.
        """
        return self.render_people(image, [PersonMesh(verts, orig_cam, color, depth=0.0)], alpha)

    # ------------------------------------------------------------------ several people
    def render_people(self, image: np.ndarray, people: Sequence[PersonLike], alpha: float = 0.8) -> np.ndarray:
        """Draw every person over a copy of ``image`` with one z-buffer, then their labels.

        Args:
            image: ``(H, W, 3)`` uint8 RGB frame (not modified).
            people: :class:`PersonMesh` entries or ``(verts, orig_cam, color, label)`` tuples.
            alpha: mesh opacity in ``[0, 1]``.
        Returns:
            ``(H, W, 3)`` uint8; pixels outside the union of the meshes and labels equal the input.
        """
        if image.shape != (self.height, self.width, 3):
            raise ValueError(f"image must be ({self.height}, {self.width}, 3), got {image.shape}")
        out = np.array(image, dtype=np.uint8, order="C", copy=True)
        self.draw_people(out, people, alpha)
        return out

    def draw_people(self, canvas: np.ndarray, people: Sequence[PersonLike], alpha: float = 0.8,
                    x_offset: int = 0) -> np.ndarray:
        """Draw people in place into the panel ``canvas[:, x_offset:x_offset + W]``.

        Args:
            canvas: ``(H, W', 3)`` C-contiguous uint8 RGB, ``W' >= x_offset + W`` (e.g. a frame of
                several panels side by side).
            people: as for :meth:`render_people`.
            alpha: mesh opacity.
            x_offset: first column of the panel.
        Returns:
            ``(P,)`` int64 number of pixels where each person is the visible surface.
        """
        self._check_canvas(canvas, x_offset)
        people = [as_person(p) for p in people]
        counts = np.zeros(len(people), np.int64)
        if not people:
            return counts
        scratch = self._scratch()
        screens, verts = self._project(people, scratch)
        boxes = screen_boxes(screens)  # (P, 4)
        with np.errstate(invalid="ignore"):  # NaN boxes: nobody to see
            active = (boxes[:, 2] >= 0) & (boxes[:, 0] <= self.width) & (boxes[:, 3] >= 0) & \
                (boxes[:, 1] <= self.height)
        boxes[~active] = np.nan  # off-panel people do not widen the z-buffer window
        k = kernels()
        lit = scratch.get("lit", verts.shape[:2] if self.smooth else (len(people), len(self.faces)), np.float32)
        lit.fill(0.0)  # (P, V) vertex or (P, F) face Lambert terms
        (k.vertex_lambert if self.smooth else k.face_lambert)(verts, self._faces32, active, lit)
        zb = rasterize_people(screens, self._faces32, self.width, self.height, self.cull_back_faces, lit, boxes,
                              scratch)
        if not zb.ids.size:
            return counts
        colors = np.stack([to_rgb01(DEFAULT_COLOR if p.color is None else p.color) for p in people]) * 255.0
        k.shade_blend(canvas, int(x_offset), zb.x0, zb.y0, zb.ids, zb.shade, len(self.faces),
                      colors.astype(np.float32), self.ambient, self.diffuse, float(alpha), counts)
        visible = np.flatnonzero(counts)
        panel = canvas[:, x_offset:x_offset + self.width]
        for i in visible:
            p = people[int(i)]
            if p.label:
                uv = screens[i, :, :2]
                top = int(np.nanargmin(uv[:, 1]))  # topmost projected vertex (the head)
                rgb = to_rgb01(DEFAULT_COLOR if p.color is None else p.color) * 255.0
                draw_tag(panel, p.label, (float(uv[top, 0]), float(uv[top, 1])), tuple(int(c + 0.5) for c in rgb))
        return counts

    def _project(self, people: list[PersonMesh], scratch: Scratch) -> tuple[np.ndarray, np.ndarray]:
        """Screen ``(P, V, 3)`` ``(u, v, depth + person depth)`` and verts ``(P, V, 3)``, float32."""
        nv = np.shape(people[0].verts)[0]
        verts = scratch.get("verts", (len(people), nv, 3), np.float32)
        for i, p in enumerate(people):
            if np.shape(p.verts) != (nv, 3):
                raise ValueError(f"person {i}: verts must be ({nv}, 3) like the first person's, "
                                 f"got {np.shape(p.verts)}")
            verts[i] = p.verts
        cams = np.stack([np.asarray(p.orig_cam, dtype=np.float64).reshape(4) for p in people])  # (P, 4)
        screens = project_orig_cam(verts, cams[:, None, :], self.width, self.height,
                                   out=scratch.get("screens", verts.shape, np.float32))
        depth = np.array([camera_depth(c, self.width, self.height) if p.depth is None else float(p.depth)
                          for p, c in zip(people, cams)], dtype=np.float32)
        if depth.any():
            screens[..., 2] += depth[:, None]
        return screens, verts

    def _check_canvas(self, canvas: np.ndarray, x_offset: int) -> None:
        if canvas.ndim != 3 or canvas.shape[0] != self.height or canvas.shape[2] != 3 or \
                canvas.shape[1] < x_offset + self.width or x_offset < 0:
            raise ValueError(f"image must be ({self.height}, {self.width}, 3) "
                             f"(from column {x_offset}), got {canvas.shape}")
        if canvas.dtype != np.uint8 or not canvas.flags.c_contiguous:
            raise ValueError(f"image must be C-contiguous uint8, got {canvas.dtype}")
