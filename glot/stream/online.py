"""GLoT online: frames arrive one at a time, predictions come out with a bounded delay.

Each frame is tracked and turned into a feature once, kept in a ring buffer of the current
segment. Frame ``e`` is predicted as soon as the frame ``e + k`` has arrived, from the window
of ``e`` with indices clamped to the frames seen so far: with ``k = T - T//2 - 1`` (the default,
the full future half of the window) every frame gets the window the offline pipeline gives it,
so the streamed outputs equal the offline ones; a smaller ``k`` lowers the latency to ``k``
frames by clamping the window's future at the live edge (off-distribution for weights trained
on centred windows; see ``glot.train``'s future-clamp option to train for it).

Boxes are not smoothed over time here (smoothing would need future frames beyond ``k``); the
offline pipeline run with ``box_smoothing=0`` gives the same boxes.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import GLoTError
from ..pipeline.bundle import ModelBundle
from ..pipeline.regress import BranchResult
from ..video.windows import window_indices

__all__ = ["StreamOptions", "StreamFrame", "OnlineRunner"]


@dataclass(frozen=True)
class StreamOptions:
    """future: frames of look-ahead ``k`` (None = ``T - T//2 - 1``, i.e. full windows);
    max_gap: frames a lost person's last box is held before the segment ends."""

    future: int | None = None
    edge: str = "clamp"
    local_width: int | None = None
    bf16: bool | None = None
    max_gap: int = 15


@dataclass
class _FrameData:
    """What the tracker gave for one frame."""

    index: int
    time: float
    box: np.ndarray
    landmarks: np.ndarray
    visibility: np.ndarray
    world: np.ndarray


@dataclass
class StreamFrame(_FrameData):
    """One emitted prediction.

    index/time: the predicted frame; box ``(4,)``; ``global_``/``final``: one-row
    :class:`BranchResult`; latency_frames: frames received after this one before it was emitted;
    compute_ms: time spent in :meth:`OnlineRunner.push` for the frame that triggered it.
    """

    global_: BranchResult
    final: BranchResult
    latency_frames: int
    compute_ms: float = 0.0


@dataclass
class _Item(_FrameData):
    feature: torch.Tensor


@dataclass
class _Segment:
    items: deque = field(default_factory=deque)  # the last T + k frames of the segment
    first: int = 0  # frame index of the segment's first frame
    emitted: int = -1  # last emitted frame index


class OnlineRunner:
    """Stateful online GLoT. Call :meth:`push` per frame and :meth:`flush` at the end."""

    def __init__(self, bundle: ModelBundle, options: StreamOptions = StreamOptions()) -> None:
        from ..video.track import PoseTracker, TrackerConfig

        self.bundle = bundle
        self.options = options
        cfg = bundle.glot.cfg
        self.T = cfg.seqlen
        full = self.T - self.T // 2 - 1
        self.k = full if options.future is None else int(options.future)
        if not 0 <= self.k <= full:
            raise GLoTError(f"look-ahead must be between 0 and {full} frames, not {self.k}")
        self.tracker = PoseTracker(TrackerConfig())
        self.count = 0
        self._seg: _Segment | None = None
        self._last_box: np.ndarray | None = None
        self._since_seen = 0

    def close(self) -> None:
        self.tracker.close()

    # ------------------------------------------------------------------ per frame
    def push(self, image: np.ndarray, timestamp: float | None = None) -> list[StreamFrame]:
        """Feed one RGB frame ``(H, W, 3)`` uint8; returns the predictions it makes possible."""
        t0 = time.perf_counter()
        index = self.count
        self.count += 1
        ts = float(timestamp) if timestamp is not None else float(index)
        obs = self.tracker.process(image)
        out: list[StreamFrame] = []
        if obs.found and np.isfinite(obs.box).all():
            box = obs.box.astype(np.float64)
            self._last_box, self._since_seen = box, 0
        elif self._last_box is not None and self._since_seen < self.options.max_gap:
            box = self._last_box  # hold the last box through a short gap
            self._since_seen += 1
        else:
            out.extend(self._end_segment())
            self._last_box = None
            return self._stamp(out, t0)
        if self._seg is None:
            self._seg = _Segment(first=index, emitted=index - 1)
        feat = self.bundle.frame_features(image, box, obs, bf16=self.options.bf16)
        self._seg.items.append(_Item(index, ts, box, obs.landmarks, obs.visibility, obs.world, feat))
        while len(self._seg.items) > self.T + self.k + 1:
            self._seg.items.popleft()
        ready = index - self.k
        if ready > self._seg.emitted:
            out.extend(self._emit(range(self._seg.emitted + 1, ready + 1), live_end=index))
        return self._stamp(out, t0)

    def flush(self) -> list[StreamFrame]:
        """End of stream: predict the frames still waiting for look-ahead."""
        t0 = time.perf_counter()
        return self._stamp(self._end_segment(), t0)

    # ------------------------------------------------------------------ internals
    def _end_segment(self) -> list[StreamFrame]:
        seg, self._seg = self._seg, None
        if seg is None or not seg.items:
            return []
        last = seg.items[-1].index
        return self._emit_from(seg, range(seg.emitted + 1, last + 1), live_end=last)

    def _emit(self, frames: range, live_end: int) -> list[StreamFrame]:
        return self._emit_from(self._seg, frames, live_end)

    @torch.inference_mode()
    def _emit_from(self, seg: _Segment, frames: range, live_end: int) -> list[StreamFrame]:
        if len(frames) == 0:
            return []
        items = {it.index: it for it in seg.items}
        n_seen = live_end - seg.first + 1
        centres = np.asarray(frames) - seg.first
        idx = window_indices(n_seen, self.T, self.options.edge, centres=centres) + seg.first  # (E, T)
        feats = torch.stack([torch.stack([items[int(j)].feature for j in row]) for row in idx])  # (E, T, F)
        model = self.bundle.glot
        out = model(feats.to(model.device), local_width=self.options.local_width, need_verts=False,
                    need_global_verts=False)
        g = out.global_.map(lambda t: t[:, 0].float().cpu())
        f = out.final.map(lambda t: t.float().cpu())
        res: list[StreamFrame] = []
        for row, e in enumerate(frames):
            it = items[e]
            res.append(StreamFrame(
                index=e, time=it.time, box=it.box, landmarks=it.landmarks, visibility=it.visibility, world=it.world,
                global_=_row(g, row), final=_row(f, row), latency_frames=live_end - e))
        seg.emitted = frames[-1]
        return res

    @staticmethod
    def _stamp(frames: list[StreamFrame], t0: float) -> list[StreamFrame]:
        ms = (time.perf_counter() - t0) * 1000.0
        for fr in frames:
            fr.compute_ms = ms
        return frames


def _row(o, i: int) -> BranchResult:
    return BranchResult(rotmat=o.rotmat[i:i + 1].numpy(), pose=o.theta[i:i + 1, 3:75].numpy(),
                        betas=o.betas[i:i + 1].numpy(), cam=o.cam[i:i + 1].numpy(),
                        joints3d=o.kp_3d[i:i + 1].numpy(), joints2d=o.kp_2d[i:i + 1].numpy())
