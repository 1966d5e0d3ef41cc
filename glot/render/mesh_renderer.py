"""CPU mesh renderer: SMPL meshes over video frames with GLoT's original-image camera.

Shading is Lambert with a headlight (light at the camera, shining along +z) plus ambient; smooth
(Gouraud: per-vertex intensity interpolated with barycentrics) or flat (per-face). The mesh is
alpha-blended over the input frame; pixels outside the mesh are left untouched.
Images are RGB ``uint8``; colours follow :mod:`glot.render.colors`.
"""
from __future__ import annotations

import numpy as np

from glot.render.colors import Color, to_rgb01
from glot.render.projection import project_orig_cam
from glot.render.rasterizer import Fragments, rasterize

__all__ = ["MeshRenderer", "face_normals", "vertex_normals"]


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


class MeshRenderer:
    """Render one fixed-topology mesh over frames of one size.

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
        self.width, self.height = int(width), int(height)
        self.ambient, self.diffuse = float(ambient), float(diffuse)
        self.smooth, self.cull_back_faces = smooth, cull_back_faces

    def rasterize(self, verts: np.ndarray, orig_cam: np.ndarray) -> Fragments:
        """``(V, 3)`` camera-frame verts, ``(4,)`` ``(sx, sy, tx, ty)`` -> visible :class:`Fragments`."""
        screen = project_orig_cam(verts, orig_cam, self.width, self.height)
        return rasterize(screen, self.faces, self.width, self.height, self.cull_back_faces)

    def render_mask(self, verts: np.ndarray, orig_cam: np.ndarray) -> np.ndarray:
        """``(H, W)`` bool: pixels covered by the mesh."""
        return self.rasterize(verts, orig_cam).mask()

    def shade(self, verts: np.ndarray, frags: Fragments) -> np.ndarray:
        """``(K,)`` float32 intensity in ``[0, ambient + diffuse]`` for each fragment."""
        verts = np.asarray(verts, dtype=np.float64)
        if self.smooth:
            # Headlight: direction to the light is -z; abs() lights back faces two-sided.
            lit = np.abs(vertex_normals(verts, self.faces)[:, 2]).astype(np.float32)  # (V,)
            corner = lit[self.faces[frags.face]]  # (K, 3)
            lam = (corner * frags.bary).sum(1)
        else:
            lam = np.abs(face_normals(verts, self.faces)[frags.face, 2]).astype(np.float32)
        return self.ambient + self.diffuse * np.clip(lam, 0.0, 1.0)

    def render(self, image: np.ndarray, verts: np.ndarray, orig_cam: np.ndarray,
               color: Color = (0.65, 0.74, 0.86), alpha: float = 0.8) -> np.ndarray:
        """Alpha-blend the shaded mesh over a frame.

        Args:
            image: ``(H, W, 3)`` uint8 RGB frame (not modified).
            verts: ``(V, 3)`` camera-frame vertices (metres).
            orig_cam: ``(4,)`` ``(sx, sy, tx, ty)`` original-image camera.
            color: mesh colour ``(r, g, b)``.
            alpha: mesh opacity in ``[0, 1]``.
        Returns:
            ``(H, W, 3)`` uint8 frame; pixels outside the mesh equal the input.
        """
        if image.shape != (self.height, self.width, 3):
            raise ValueError(f"image must be ({self.height}, {self.width}, 3), got {image.shape}")
        out = image.copy()
        frags = self.rasterize(verts, orig_cam)
        if frags.face.size == 0:
            return out
        rgb = self.shade(verts, frags)[:, None] * (to_rgb01(color) * 255.0)  # (K, 3)
        bg = out[frags.ys, frags.xs].astype(np.float32)
        blended = alpha * np.minimum(rgb, 255.0) + (1.0 - alpha) * bg
        out[frags.ys, frags.xs] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out
