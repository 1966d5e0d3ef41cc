"""GLoT online: frames arrive one at a time, every person's predictions come out with a bounded delay.

Per frame, the people tracker (:class:`glot.perception.PeopleTracker`, the same one the offline
pass runs) finds everybody; each person's frames are decided with the offline pass's rules as soon
as no later frame can change them (:class:`glot.stream.tracks.LiveTrack`), their features are
computed once (the ResNet crop at the box, or the landmark features), and frame ``e`` of a person
is predicted once the frames of its window up to ``e + k`` are decided. With the default
``k = T - T//2 - 1`` every frame gets the window the offline pipeline gives it, so the streamed
outputs equal the offline ones (run with ``box_smoothing=0``: boxes are not smoothed online); a
smaller ``k`` clamps the window's future at the live edge (off-distribution for weights trained
on centred windows). All people's windows go through the model together.

With ``overlap`` the tracker runs in a worker thread on frame ``t`` while the caller's thread
computes features and GLoT for earlier frames, so a frame can cost about the larger of the two
where cores are free. Off by default: on a 2-core CPU both stages already use both cores, and
overlapping them was slower than running them in turn (``benchmarks/bench_stream.py``; README, Speed).
``window_fps`` builds each window from the frames nearest to ``1 / window_fps`` steps in time
(a 10 fps webcam then still sees windows spanning the trained 16 / 30 s).

:data:`LIVE_PEOPLE` is the tracking for a live camera (the app's live mode, ``glot stream`` on a
webcam or URL): the detector searches the whole frame, as MediaPipe's own pose graph does, and no
tiles. It finds people who fill a good part of the frame (a webcam's subject) at about a third
of the tile search's cost, and misses distant ones (the walkers of the pedestrians clip, about a
fifth of the frame's height): files keep the tile search.
"""
from __future__ import annotations

import queue
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..errors import GLoTError
from ..model.landmark_features import landmark_features
from ..perception.tracker import Observation, PeopleConfig, PeopleTracker
from ..pipeline.bundle import ModelBundle
from ..pipeline.regress import BranchResult
from ..video.crop import crop_image
from ..video.windows import window_indices
from .tracks import LiveTrack

__all__ = ["StreamOptions", "StreamFrame", "OnlineRunner", "TRAINED_FPS", "LIVE_PEOPLE"]

TRAINED_FPS = 30.0  # the released weights saw 16-frame windows of ~30 fps video (3DPW)
STREAM_PEOPLE = PeopleConfig(smooth_sigma=0.0)  # online: boxes are not smoothed with future frames
LIVE_PEOPLE = replace(STREAM_PEOPLE, tile_fraction=0.0)  # a live camera: whole-frame search only


@dataclass(frozen=True)
class StreamOptions:
    """future: frames of look-ahead ``k`` (None = ``T - T//2 - 1``, i.e. full windows);
    window_fps: build windows at this frame rate by timestamp (None: consecutive frames, as offline);
    overlap: track in a worker thread while the caller computes the model (for CPUs with cores to
    spare; measured slower on 2 cores)."""

    future: int | None = None
    edge: str = "clamp"
    local_width: int | None = None
    bf16: bool | None = None
    window_fps: float | None = None
    overlap: bool = False
    people: PeopleConfig = STREAM_PEOPLE  # frozen: shared safely


@dataclass
class StreamFrame:
    """One emitted prediction of one person.

    index/time: the predicted frame; track_id; box ``(4,)``; landmarks ``(33, 3)`` / visibility /
    world (NaN / 0 inside a filled gap); ``global_``/``final``: one-row :class:`BranchResult`;
    latency_frames: frames received after this one before it was emitted; compute_ms: wall time
    of the :meth:`OnlineRunner.push` that emitted it.
    """

    index: int
    time: float
    track_id: int
    box: np.ndarray
    landmarks: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    global_: BranchResult
    final: BranchResult
    latency_frames: int
    compute_ms: float = 0.0


@dataclass
class _Person:
    track: LiveTrack
    features: dict[int, torch.Tensor] = field(default_factory=dict)  # frame -> feature, once its box is known
    crops: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> (224, 224, 3) uint8 crop awaiting ResNet
    emitted: int = -1  # last frame index decided (emitted or skipped)


_NAN_LM = np.full((33, 3), np.nan)


class OnlineRunner:
    """Stateful online GLoT for every person. Call :meth:`push` per frame and :meth:`flush` at the end."""

    def __init__(self, bundle: ModelBundle, options: StreamOptions = StreamOptions()) -> None:
        self.bundle = bundle
        self.options = options
        self.T = bundle.glot.cfg.seqlen
        full = self.T - self.T // 2 - 1
        self.k = full if options.future is None else int(options.future)
        if not 0 <= self.k <= full:
            raise GLoTError(f"look-ahead must be between 0 and {full} frames, not {self.k}")
        self.cfg = options.people
        self.tracker = PeopleTracker(self.cfg)
        self.count = 0  # frames pushed
        self._done = 0  # frames through the second stage
        self._times: list[float] = []
        self._images: deque = deque(maxlen=self.cfg.max_gap + 4)  # (index, image): crops of gap frames
        # frames an unverified person's crops wait for a verification (well past the last attempt)
        self._crop_horizon = 2 * (self.cfg.max_gap + self.cfg.confirm_interval * self.cfg.confirm_attempts + self.T)
        self._people: dict[int, _Person] = {}
        # per-frame milliseconds of each stage (the latest 1000 frames): with ``overlap`` the stages run
        # side by side, so the frame interval the runner sustains is the larger of the two
        self.track_ms: deque = deque(maxlen=1000)
        self.model_ms: deque = deque(maxlen=1000)
        self._inbox: queue.Queue | None = None
        self._outbox: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        if options.overlap:
            self._inbox, self._outbox = queue.Queue(maxsize=1), queue.Queue()
            self._worker = threading.Thread(target=self._track_loop, name="glot-stream-track", daemon=True)
            self._worker.start()
            # a runner nobody closed still stops its thread (at the latest when Python exits)
            weakref.finalize(self, _stop_worker, self._inbox, self._worker)

    # ------------------------------------------------------------------ stage 1: tracking
    def _track_loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                self._outbox.put(None)
                return
            index, image, ts = item
            try:
                self._outbox.put((index, image, ts, self._track(image, ts)))
            except BaseException as exc:  # handed to the caller
                self._outbox.put(exc)
                return

    def _track(self, image: np.ndarray, ts: float) -> list[tuple[int, Observation]]:
        t0 = time.perf_counter()
        observed = self.tracker.update(image, ts)
        self.track_ms.append((time.perf_counter() - t0) * 1000.0)
        return observed

    def close(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            self._inbox.put(None)
            self._worker.join(timeout=10)
        self.tracker.close()

    # ------------------------------------------------------------------ per frame
    def push(self, image: np.ndarray, timestamp: float | None = None) -> list[StreamFrame]:
        """Feed one RGB frame ``(H, W, 3)`` uint8; returns the predictions that became possible."""
        t0 = time.perf_counter()
        index = self.count
        self.count += 1
        ts = float(timestamp) if timestamp is not None else float(index)
        out: list[StreamFrame] = []
        if self._worker is None:
            out.extend(self._stage2(index, image, ts, self._track(image, ts)))
        else:
            self._inbox.put((index, image, ts))  # waits while the tracker is on the previous frame
            while True:  # everything the tracker has finished, without waiting for this frame
                try:
                    item = self._outbox.get_nowait()
                except queue.Empty:
                    break
                out.extend(self._handle(item))
        return self._stamp(out, t0)

    def flush(self) -> list[StreamFrame]:
        """End of stream: wait for the tracker, decide every pending frame, predict what is left."""
        t0 = time.perf_counter()
        out: list[StreamFrame] = []
        if self._worker is not None and self._worker.is_alive():
            self._inbox.put(None)
            while True:
                item = self._outbox.get()
                if item is None:
                    break
                out.extend(self._handle(item))
            self._worker.join()
        out.extend(self._emit(final=True))
        return self._stamp(out, t0)

    def _handle(self, item) -> list[StreamFrame]:
        if isinstance(item, BaseException):
            raise item
        return self._stage2(*item)

    # ------------------------------------------------------------------ stage 2: decide, features, GLoT
    def _stage2(self, index: int, image: np.ndarray, ts: float, observed: list[tuple[int, Observation]]
                ) -> list[StreamFrame]:
        t0 = time.perf_counter()
        out = self._decide(index, image, ts, observed)
        self.model_ms.append((time.perf_counter() - t0) * 1000.0)
        return out

    def _decide(self, index: int, image: np.ndarray, ts: float, observed: list[tuple[int, Observation]]
                ) -> list[StreamFrame]:
        self._done = index + 1
        self._times.append(ts)
        self._images.append((index, image))
        for tid, obs in observed:
            person = self._people.get(tid)
            if person is None:
                person = self._people[tid] = _Person(LiveTrack(tid, self.cfg))
            prev = max(person.track.detections) if person.track.detections else None
            person.track.observe(index, obs)
            self._features(person, index, index + 1)
            if prev is not None and 0 < index - prev - 1 <= self.cfg.max_gap:  # a gap closed: its boxes are known
                self._features(person, prev + 1, index)
        self._resnet(index)
        return self._emit(final=False)

    def _resnet(self, now: int) -> None:
        """ResNet features of the waiting crops of every verified person, in one batch.

        A person the detector has not verified yet may be a false find, which the offline pass
        drops: their crops wait (the first verification comes within ``confirm_attempts`` checks,
        ``confirm_interval`` frames apart) and are forgotten after ``_crop_horizon`` frames."""
        todo = [(p, k) for p in self._people.values() if p.track.last_verified >= 0 for k in sorted(p.crops)]
        if todo:
            feats = self.bundle.crop_features(np.stack([p.crops.pop(k) for p, k in todo]), bf16=self.options.bf16)
            for (p, k), f in zip(todo, feats):
                p.features[k] = f
        old = now - self._crop_horizon
        for p in self._people.values():
            for k in [k for k in p.crops if k < old]:
                del p.crops[k]
            if p.track.last_verified < 0:  # the open model's features of an unverified person, likewise
                for k in [k for k in p.features if k < old]:
                    del p.features[k]

    def _features(self, person: _Person, start: int, stop: int) -> None:
        """Features of ``start..stop-1`` (inside one run of ``person``'s detections)."""
        track = person.track
        lo = max(i for i in track.detections if i <= start)
        hi = min(i for i in track.detections if i >= stop - 1)
        boxes = track.boxes(lo, hi + 1)
        if self.bundle.is_open_model:
            obs = [track.detections.get(k) for k in range(lo, hi + 1)]
            lm = np.stack([o.landmarks if o is not None else _NAN_LM for o in obs])
            vis = np.stack([o.visibility if o is not None else np.zeros(33) for o in obs])
            world = np.stack([o.world if o is not None else _NAN_LM for o in obs])
            feats = landmark_features(lm, vis, world, boxes)  # gaps interpolated between lo and hi, as offline
            for k in range(start, stop):
                person.features[k] = torch.from_numpy(feats[k - lo])
        else:
            images = dict(self._images)
            for k in range(start, stop):
                person.crops[k] = crop_image(images[k], boxes[k - lo])[0]

    def _window(self, e: int, a: int, last: int) -> np.ndarray:
        """Frame indices ``(T,)`` of frame ``e``'s window inside frames ``a..last`` of its segment."""
        fps = self.options.window_fps
        if fps is None:
            return window_indices(last - a + 1, self.T, self.options.edge, centres=np.array([e - a]))[0] + a
        times = np.asarray(self._times[a:last + 1])
        want = self._times[e] + (np.arange(self.T) - self.T // 2) / fps
        idx = np.clip(np.searchsorted(times, want), 1, len(times) - 1)
        nearer_left = (want - times[idx - 1]) <= (times[idx] - want)
        return np.where(nearer_left, idx - 1, idx) + a if len(times) > 1 else np.full(self.T, a)

    def _emit(self, final: bool) -> list[StreamFrame]:
        now = self._done - 1
        jobs: list[tuple[_Person, int, np.ndarray]] = []
        for tid, person in list(self._people.items()):
            track = person.track
            if final and not track.keeps(self._done):
                del self._people[tid]
                continue
            frontier = track.frontier(now, final)
            segments = track.segments(final, self._done)
            for e in range(person.emitted + 1, frontier + 1):
                seg = next(((a, b) for a, b in segments if a <= e < b), None)
                if seg is None:
                    person.emitted = e  # not kept: nothing to say
                    continue
                a, b = seg
                closed = final or now - (b - 1) > self.cfg.max_gap
                last = b - 1 if closed else min(frontier, e + self.k)
                if not closed and e + self.k > frontier:
                    break  # its window's future is not decided yet
                if self.options.window_fps is not None and not closed and \
                        self._times[last] < self._times[e] + self.k / self.options.window_fps:
                    break
                jobs.append((person, e, self._window(e, a, last)))
                person.emitted = e
        out = self._predict(jobs, now)
        for person in self._people.values():
            keep_from = person.emitted - self.T  # older features are no longer needed
            for k in [k for k in person.features if k < keep_from]:
                del person.features[k]
        return out

    @torch.inference_mode()
    def _predict(self, jobs: list[tuple[_Person, int, np.ndarray]], now: int) -> list[StreamFrame]:
        if not jobs:
            return []
        keys = sorted({(id(p), int(j)) for p, _, idx in jobs for j in idx})  # each frame's share done once
        pos = {k: i for i, k in enumerate(keys)}
        people = {id(p): p for p, _, _ in jobs}
        feats = torch.stack([people[pid].features[j] for pid, j in keys])  # (K, F) the distinct frames
        windows = torch.as_tensor([[pos[(id(p), int(j))] for j in idx] for p, _, idx in jobs])  # (E, T) rows of feats
        out = self.bundle.glot.forward_clip(feats, windows, local_width=self.options.local_width, need_verts=False,
                                            need_global_verts=False)
        g = out.global_.map(lambda t: t[:, 0].float().cpu())
        f = out.final.map(lambda t: t.float().cpu())
        res: list[StreamFrame] = []
        for row, (person, e, _) in enumerate(jobs):
            track = person.track
            obs = track.detections.get(e)
            run = next((a, b) for a, b in track.runs() if a <= e <= b) if obs is None else (e, e)
            box = track.boxes(run[0], run[1] + 1)[e - run[0]] if obs is None else np.asarray(obs.box, np.float64)
            res.append(StreamFrame(
                index=e, time=self._times[e], track_id=track.track_id, box=box,
                landmarks=obs.landmarks if obs is not None else _NAN_LM, visibility=obs.visibility if obs is not None
                else np.zeros(33), world=obs.world if obs is not None else _NAN_LM,
                global_=_row(g, row), final=_row(f, row), latency_frames=now - e))
        return res

    def _stamp(self, frames: list[StreamFrame], t0: float) -> list[StreamFrame]:
        """Latency counted in frames pushed (with ``overlap`` the tracker may be a frame behind)."""
        ms = (time.perf_counter() - t0) * 1000.0
        for fr in frames:
            fr.compute_ms = ms
            fr.latency_frames = self.count - 1 - fr.index
        return frames


def _stop_worker(inbox: queue.Queue, worker: threading.Thread) -> None:
    if worker.is_alive():
        try:
            inbox.put(None, timeout=1.0)
        except queue.Full:
            return
        worker.join(timeout=5.0)


def _row(o, i: int) -> BranchResult:
    return BranchResult(rotmat=o.rotmat[i:i + 1].numpy(), pose=o.theta[i:i + 1, 3:75].numpy(),
                        betas=o.betas[i:i + 1].numpy(), cam=o.cam[i:i + 1].numpy(),
                        joints3d=o.kp_3d[i:i + 1].numpy(), joints2d=o.kp_2d[i:i + 1].numpy())
