"""Overlay frames for the result video and the app: mesh panels side by side, 2D skeletons.

Images are RGB ``uint8``.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR, Color
from glot.render.mesh_renderer import MeshRenderer

__all__ = ["PANEL_LABELS", "draw_label", "hstack_panels",
           "overlay_panels", "draw_skeleton"]

PANEL_LABELS = ("input", "global", "final (local-corrected)")


def draw_label(image: np.ndarray, text: str, origin: tuple[int, int] = (6, 6)) -> np.ndarray:
    """Draw small white text with a dark outline; ``origin`` is the label's top-left ``(x, y)``.
    The font scale follows the image height. Modifies and returns ``image``."""
    scale = max(0.35, image.shape[0] / 900.0)
    thick = 1 if scale < 0.7 else 2
    (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = (int(origin[0]), int(origin[1]) + th)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return image


def hstack_panels(panels: Sequence[np.ndarray], labels: Sequence[str] | None = None) -> np.ndarray:
    """Concatenate ``(H, W, 3)`` panels horizontally -> ``(H, n * W, 3)``, each labelled in its
    top-left corner when ``labels`` is given (the panels are not modified)."""
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f"{len(labels)} labels for {len(panels)} panels")
    out = np.concatenate(panels, axis=1)
    if labels is not None:
        x = 0
        for panel, label in zip(panels, labels):
            draw_label(out, label, (x + 6, 6))
            x += panel.shape[1]
    return out


def overlay_panels(renderer: MeshRenderer, frame: np.ndarray, orig_cam: np.ndarray | None,
                   verts_global: np.ndarray | None, verts_final: np.ndarray | None,
                   alpha: float = 0.8, labels: Sequence[str] | None = PANEL_LABELS,
                   colors: tuple[Color, Color] = (GLOBAL_COLOR, FINAL_COLOR)) -> np.ndarray:
    """One frame of the overlay video: input | global-branch mesh | final mesh.

    Args:
        renderer: a :class:`MeshRenderer` for the frame size.
        frame: ``(H, W, 3)`` uint8 RGB input frame.
        orig_cam: ``(4,)`` original-image camera, or None when no person was tracked.
        verts_global, verts_final: ``(V, 3)`` camera-frame vertices of the two predictions, or None.
        alpha: mesh opacity.
        labels: three corner labels, or None for none.
        colors: mesh colours of the global and final panels.
    Returns:
        ``(H, 3 * W, 3)`` uint8; frames without a person show the input in all three panels.
    """
    panels = [frame]
    for verts, color in zip((verts_global, verts_final), colors):
        if orig_cam is None or verts is None:
            panels.append(frame)
        else:
            panels.append(renderer.render(frame, verts, orig_cam, color=color, alpha=alpha))
    return hstack_panels(panels, labels)


def draw_skeleton(image: np.ndarray, joints: np.ndarray, bones: Sequence[tuple[int, int]],
                  confidence: np.ndarray | None = None, threshold: float = 0.0,
                  joint_color: tuple[int, int, int] = (255, 60, 60),
                  bone_color: tuple[int, int, int] = (60, 255, 60),
                  radius: int = 3, thickness: int = 2) -> np.ndarray:
    """Draw 2D joints and the bones between them on a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        joints: ``(N, 2)`` pixel coordinates ``(x, y)`` (pixel centres at integers, as cv2 draws).
        bones: ``(a, b)`` joint index pairs, e.g. from the body model's ``parents``.
        confidence: optional ``(N,)`` scores; joints at or below ``threshold`` and their bones are skipped.
        joint_color, bone_color: RGB 0..255.
        radius, thickness: joint dot radius and bone line width in pixels.
    Returns:
        ``(H, W, 3)`` uint8 copy with the skeleton drawn.
    """
    out = np.ascontiguousarray(image).copy()
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(joints).all(1)
    if confidence is not None:
        ok &= np.asarray(confidence).reshape(-1) > threshold
    shift = 4  # sub-pixel precision for cv2 drawing
    pts = np.round(np.where(ok[:, None], joints, 0) * (1 << shift)).astype(np.int64)
    for a, b in bones:
        if ok[a] and ok[b]:
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), bone_color, thickness, cv2.LINE_AA, shift)
    for j in np.flatnonzero(ok):
        cv2.circle(out, tuple(map(int, pts[j])), radius << shift, joint_color, -1, cv2.LINE_AA, shift)
    return out
