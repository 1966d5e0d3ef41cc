"""The app's live webcam mode: handlers around :class:`glot.stream.OnlineRunner` (no Gradio here).

Each browser session owns one :class:`LiveSession` (in ``gr.State``): its runner, the last few
frames (the prediction for a frame comes out ``k`` frames later) and a rolling history of both
branches' joints for the acceleration plot.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch

from ..pipeline.bundle import ModelBundle
from ..pipeline.results import image_space
from ..render import FINAL_COLOR, GLOBAL_COLOR, MeshRenderer, hstack_panels
from ..stream import OnlineRunner, StreamOptions
from .plots import _rgb, frame_mean, joint_acceleration

__all__ = ["LiveSession", "live_step", "live_figure", "HISTORY"]

HISTORY = 150  # frames kept for the rolling plot
MAX_SIDE = 480  # live frames are downscaled to this (latency first)


@dataclass
class LiveSession:
    """Per-session live state."""

    runner: OnlineRunner
    future: int
    images: deque = field(default_factory=lambda: deque(maxlen=32))  # (index, image)
    joints: dict = field(default_factory=lambda: {"global": deque(maxlen=HISTORY), "final": deque(maxlen=HISTORY)})
    indices: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    renderer: MeshRenderer | None = None
    compute_ms: deque = field(default_factory=lambda: deque(maxlen=60))

    def close(self) -> None:
        self.runner.close()


def _downscale(image: np.ndarray) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s >= 1:
        return image
    return cv2.resize(image, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_AREA)


def live_step(bundle: ModelBundle, session: LiveSession | None, frame: np.ndarray | None, future: int
              ) -> tuple[LiveSession, np.ndarray | None, str]:
    """Feed one webcam frame. Returns the session, the newest overlay panel (input | global |
    final of the latest predicted frame, or None before the first prediction) and a status line."""
    if session is None or session.future != future:
        if session is not None:
            session.close()
        session = LiveSession(OnlineRunner(bundle, StreamOptions(future=future)), future)
    if frame is None:
        return session, None, "waiting for the webcam"
    image = _downscale(np.ascontiguousarray(frame[..., :3]))
    t0 = time.perf_counter()
    emitted = session.runner.push(image)
    session.compute_ms.append((time.perf_counter() - t0) * 1000)
    index = session.runner.count - 1
    session.images.append((index, image))
    panel = None
    for fr in emitted:
        for b, attr in (("global", "global_"), ("final", "final")):
            session.joints[b].append(getattr(fr, attr).joints3d[0])
        session.indices.append(fr.index)
    if emitted:
        panel = _panel(bundle, session, emitted[-1])
    c = np.asarray(session.compute_ms)
    status = (f"look-ahead {session.runner.k} frames; compute p50 {np.percentile(c, 50):.0f} ms, "
              f"p95 {np.percentile(c, 95):.0f} ms; frames in {session.runner.count}")
    return session, panel, status


@torch.inference_mode()
def _panel(bundle: ModelBundle, session: LiveSession, fr) -> np.ndarray | None:
    image = next((img for i, img in session.images if i == fr.index), None)
    if image is None:
        return None
    h, w = image.shape[:2]
    if session.renderer is None or (session.renderer.width, session.renderer.height) != (w, h):
        session.renderer = MeshRenderer(bundle.faces.cpu().numpy(), w, h)
    panels = [image]
    for attr, color in (("global_", GLOBAL_COLOR), ("final", FINAL_COLOR)):
        br = getattr(fr, attr)
        verts = bundle.glot.body.pose(torch.from_numpy(br.betas), torch.from_numpy(br.rotmat)).verts[0].numpy()
        cam, _ = image_space(br, fr.box[None], w, h)
        panels.append(session.renderer.render(image, verts, cam[0], color=color))
    return hstack_panels(panels, ("input", "global", "final"))


def live_figure(session: LiveSession | None) -> go.Figure:
    """Rolling per-frame mean joint acceleration (mm/frame²) of both branches."""
    fig = go.Figure()
    if session is not None and len(session.indices) >= 3:
        x = np.asarray(session.indices)
        for b, color, name in (("global", GLOBAL_COLOR, "global branch"), ("final", FINAL_COLOR, "final")):
            acc = frame_mean(joint_acceleration(np.stack(session.joints[b])))
            fig.add_scatter(x=x, y=acc, mode="lines", name=name, line={"color": _rgb(color)},
                            hovertemplate="frame %{x}: %{y:.1f} mm/frame²")
    fig.update_layout(height=260, margin={"l": 40, "r": 10, "t": 30, "b": 30}, title="Live joint acceleration",
                      xaxis_title="frame", yaxis_title="mm/frame²")
    return fig
