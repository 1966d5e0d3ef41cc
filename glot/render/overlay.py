"""Overlay frames for the result video and the app: mesh panels side by side, 2D skeletons.

Images are RGB ``uint8``.
"""
from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import replace
from typing import Sequence

import cv2
import numpy as np

from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR, Color, person_shade
from glot.render.labels import draw_label
from glot.render.mesh_renderer import MeshRenderer, PersonLike, as_person

__all__ = ["PANEL_LABELS", "draw_label", "hstack_panels", "overlay_frame",
           "overlay_panels", "draw_skeleton"]

PANEL_LABELS = ("input", "global", "final (local-corrected)")


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


def overlay_frame(renderer: MeshRenderer, frame: np.ndarray,
                  people: Sequence[Sequence[PersonLike]], alpha: float = 0.8,
                  labels: Sequence[str] | None = PANEL_LABELS,
                  colors: Sequence[Color] = (GLOBAL_COLOR, FINAL_COLOR),
                  executor: Executor | None = None) -> np.ndarray:
    """One frame of the overlay video with every person: input | global branch | final branch.

    Each branch panel draws all its people with one z-buffer (the nearest surface wins per pixel),
    each person in ``person_shade(branch colour, track_id)`` unless it has a colour, with a small
    tag above the head (``"#<track_id>"`` unless it has a label). The three panels are written
    straight into the output (no per-panel copies).

    Args:
        renderer: a :class:`MeshRenderer` for the panel size.
        frame: ``(H, W, 3)`` uint8 RGB input frame (panel size).
        people: one sequence per branch panel (``len(colors)`` of them, global then final) of
            :class:`~glot.render.mesh_renderer.PersonMesh` (or ``(verts, orig_cam, ...)`` tuples);
            empty where nobody is tracked.
        alpha: mesh opacity.
        labels: one corner label per panel (input first), or None.
        colors: branch colours, one per branch panel.
        executor: if given (e.g. a 2-worker ``ThreadPoolExecutor``), the branch panels are drawn
            concurrently on it (the kernels release the GIL); the result is the same.
    Returns:
        ``(H, (1 + len(colors)) * W, 3)`` uint8, C-contiguous (ready for the video writer).
    """
    h, w = renderer.height, renderer.width
    if frame.shape != (h, w, 3):
        raise ValueError(f"frame must be ({h}, {w}, 3), got {frame.shape}")
    if len(people) != len(colors):
        raise ValueError(f"{len(people)} people lists for {len(colors)} branch panels")
    n = 1 + len(colors)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} panels")
    out = np.empty((h, n * w, 3), np.uint8)
    out.reshape(h, n, w, 3)[:] = frame[:, None]
    jobs = []
    for k, (branch, color) in enumerate(zip(people, colors), start=1):
        resolved = [replace(p, color=person_shade(color, p.track_id) if p.color is None else p.color,
                            label=f"#{p.track_id}" if p.label is None else p.label) for p in map(as_person, branch)]
        if resolved:
            jobs.append((resolved, k * w))
    if executor is not None and len(jobs) > 1:  # panels write disjoint columns of ``out``
        for future in [executor.submit(renderer.draw_people, out, r, alpha, x) for r, x in jobs]:
            future.result()
    else:
        for resolved, x in jobs:
            renderer.draw_people(out, resolved, alpha, x_offset=x)
    if labels is not None:
        for k, label in enumerate(labels):
            draw_label(out[:, k * w:(k + 1) * w], label, (6, 6))
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
