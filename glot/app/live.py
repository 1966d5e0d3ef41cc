"""The app's live webcam mode: handlers around :class:`glot.stream.OnlineRunner` (no Gradio here).

Each browser session owns one :class:`LiveSession` (in ``gr.State``): its runner (every person,
windows built at the trained 30 fps by timestamp whatever rate the browser sends), the last
frames (a prediction comes out ``k`` frames after its frame) and a rolling history of each
person's joints for the acceleration plot.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from ..pipeline.bundle import ModelBundle
from ..pipeline.meshes import pose_meshes
from ..pipeline.options import BRANCHES
from ..pipeline.results import image_space
from ..render import MeshRenderer, PersonMesh, overlay_frame
from ..stream import LIVE_PEOPLE, TRAINED_FPS, OnlineRunner, StreamOptions
from .plots import FigureSpec, _rgb, frame_mean, joint_acceleration, template_json

__all__ = ["LiveSession", "live_step", "live_spec", "live_figure", "HISTORY"]

HISTORY = 150  # frames kept for the rolling plot
MAX_SIDE = 480  # live frames are downscaled to this (latency first)


@dataclass
class LiveSession:
    """Per-session live state."""

    runner: OnlineRunner
    future: int
    t0: float = field(default_factory=time.perf_counter)
    images: deque = field(default_factory=lambda: deque(maxlen=48))  # (index, image)
    joints: dict = field(default_factory=dict)  # track id -> deque of (index, final-branch (49, 3))
    arrivals: deque = field(default_factory=lambda: deque(maxlen=30))  # arrival times (s): the stream's rate
    renderer: MeshRenderer | None = None
    compute_ms: deque = field(default_factory=lambda: deque(maxlen=60))

    def close(self) -> None:
        self.runner.close()

    @property
    def input_fps(self) -> float:
        a = np.asarray(self.arrivals)
        return float((len(a) - 1) / (a[-1] - a[0])) if len(a) > 2 and a[-1] > a[0] else 0.0


def _downscale(image: np.ndarray) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s >= 1:
        return image
    return cv2.resize(image, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_AREA)


def live_step(bundle: ModelBundle, session: LiveSession | None, frame: np.ndarray | None, future: int
              ) -> tuple[LiveSession, np.ndarray | None, str]:
    """Feed one webcam frame. Returns the session, the newest overlay (input | global | final of the
    latest predicted frame, everyone in it; None before the first prediction) and a status line."""
    if session is None or session.future != future:
        if session is not None:
            session.close()
        session = LiveSession(OnlineRunner(bundle, StreamOptions(future=future, window_fps=TRAINED_FPS,
                                                                  people=LIVE_PEOPLE)), future)
    if frame is None:
        return session, None, "waiting for the webcam"
    image = _downscale(np.ascontiguousarray(frame[..., :3]))
    now = time.perf_counter() - session.t0
    session.arrivals.append(now)
    t0 = time.perf_counter()
    emitted = session.runner.push(image, now)  # the arrival time: windows are built by timestamp
    session.compute_ms.append((time.perf_counter() - t0) * 1000)
    session.images.append((session.runner.count - 1, image))
    for fr in emitted:
        session.joints.setdefault(fr.track_id, deque(maxlen=HISTORY)).append((fr.index, fr.final.joints3d[0]))
    panel = _panel(bundle, session, emitted) if emitted else None
    c = np.asarray(session.compute_ms)
    people = len({fr.track_id for fr in emitted}) if emitted else 0
    search = "whole frame" if session.runner.cfg.tile_fraction == 0 else "whole frame and tiles"
    status = (f"windows at {TRAINED_FPS:.0f} fps (the trained rate) from a {session.input_fps:.1f} fps stream; "
              f"look-ahead {session.runner.k} frames ({session.runner.k / TRAINED_FPS * 1000:.0f} ms); compute p50 "
              f"{np.percentile(c, 50):.0f} ms, p95 {np.percentile(c, 95):.0f} ms; frames in {session.runner.count}; "
              f"people in the last prediction: {people} (search: {search})")
    return session, panel, status


def _panel(bundle: ModelBundle, session: LiveSession, emitted) -> np.ndarray | None:
    """The overlay of the newest frame that has predictions: every person of that frame, both branches."""
    latest = max(fr.index for fr in emitted)
    image = next((img for i, img in session.images if i == latest), None)
    if image is None:
        return None
    frames = [fr for fr in emitted if fr.index == latest]
    h, w = image.shape[:2]
    if session.renderer is None or (session.renderer.width, session.renderer.height) != (w, h):
        session.renderer = MeshRenderer(bundle.faces, w, h)
    meshes = []
    for b, attr in zip(BRANCHES, ("global_", "final")):
        rows = [getattr(fr, attr) for fr in frames]
        verts = pose_meshes(bundle.glot.body, np.concatenate([r.betas for r in rows]),
                            np.concatenate([r.rotmat for r in rows]))
        cams = [image_space(r, fr.box[None], w, h)[0][0] for r, fr in zip(rows, frames)]
        meshes.append([PersonMesh(v, c, track_id=fr.track_id) for v, c, fr in zip(verts, cams, frames)])
    return overlay_frame(session.renderer, image, meshes)


def live_spec(session: LiveSession | None) -> FigureSpec:
    """Rolling per-frame mean joint acceleration (mm/frame²) of each person's final branch, as plotly
    JSON (:class:`glot.app.plots.FigureSpec`: made at every streamed frame, so not through ``go.Figure``)."""
    data = []
    if session is not None:
        for tid, hist in session.joints.items():
            if len(hist) < 3:
                continue
            x = np.asarray([i for i, _ in hist])
            acc = frame_mean(joint_acceleration(np.stack([j for _, j in hist])))
            line = {"line": {"color": _rgb((0.95, 0.65, 0.45))}} if len(session.joints) == 1 else {}
            data.append({"hovertemplate": "frame %{x}: %{y:.1f} mm/frame²", "mode": "lines", "name": f"id {tid}",
                         "x": x, "y": acc, "type": "scatter", **line})
    layout = {"template": template_json(pio.templates.default), "height": 260,
              "margin": {"l": 40, "r": 10, "t": 30, "b": 30}, "title": {"text": "Live joint acceleration (final)"},
              "xaxis": {"title": {"text": "frame"}}, "yaxis": {"title": {"text": "mm/frame²"}}}
    return FigureSpec(tuple(data), layout)


def live_figure(session: LiveSession | None) -> go.Figure:
    """:func:`live_spec` as a ``go.Figure``."""
    return live_spec(session).figure()
