"""Everybody in a clip: per-person arrays with a person axis, and the offline tracking pass.

:func:`track_people` runs :class:`glot.perception.tracker.PeopleTracker` over all frames (nothing
looks ahead), then a post pass that only builds segments: per person, gaps of at most
``max_gap`` frames are filled (boxes interpolated; landmarks stay NaN there), a longer absence
starts a new segment of the same person, tracks detected on fewer than ``min_track_frames``
frames, or never verified by the detector, are dropped (counted in
:attr:`People.dropped_tracks`), a person given up (the detector stopped verifying them: the
follower drifted) loses the frames after their last verification, and boxes are smoothed inside
each segment.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from glot.perception.landmarks import NUM_LANDMARKS
from glot.perception.tracker import Observation, PeopleConfig, PeopleTracker

__all__ = ["People", "track_people", "build_people", "prominence", "find_track"]


def prominence(boxes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(P,)`` box area summed over each person's valid frames (``boxes (P, N, 4)``, ``valid (P, N)``):
    big and long-lived people first."""
    area = np.where(valid, np.nan_to_num(boxes[..., 2] * boxes[..., 3]), 0.0)
    return area.sum(axis=1)


def find_track(boxes: np.ndarray, valid: np.ndarray, box: Sequence[float], frames: int = 10,
               min_iou: float = 0.1) -> int | None:
    """Index of the person overlapping ``box`` ``(cx, cy, w, h)`` most (mean IoU above ``min_iou``).

    The box is meant for the clip's first frame (the app's "person to follow"): people are
    compared over the first ``frames`` frames of the clip where anyone is there; people who only
    appear later are compared over their own first ``frames`` frames. None when nobody overlaps.
    """
    cx, cy, bw, bh = (float(v) for v in box)
    ref = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
    early = valid[:, :frames]
    best, best_iou = None, min_iou
    for i in range(len(boxes)):
        idx = np.flatnonzero(early[i]) if early[i].any() else np.flatnonzero(valid[i])[:frames]
        if len(idx) == 0:
            continue
        b = boxes[i, idx]
        xy0, xy1 = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
        inter = np.prod(np.clip(np.minimum(xy1, ref[2:]) - np.maximum(xy0, ref[:2]), 0, None), axis=1)
        iou = float(np.mean(inter / (np.prod(b[:, 2:], axis=1) + bw * bh - inter)))
        if iou > best_iou:
            best, best_iou = i, iou
    return best


@dataclass(frozen=True)
class People:
    """P people over N frames (pixels of the frames; NaN where a value does not exist)."""

    track_id: np.ndarray  # (P,) int64 tracker identities, in order of first appearance
    times: np.ndarray  # (N,) seconds
    image_size: tuple[int, int]  # (width, height)
    detected: np.ndarray  # (P, N) bool: landmarks found that frame
    valid: np.ndarray  # (P, N) bool: detected, or inside a filled gap of <= max_gap frames
    boxes: np.ndarray  # (P, N, 4) float64 square (cx, cy, s, s), smoothed; NaN where not valid
    landmarks: np.ndarray  # (P, N, 33, 3) x, y pixels, z on x's pixel scale; NaN where not detected
    visibility: np.ndarray  # (P, N, 33); 0 where not detected
    world: np.ndarray  # (P, N, 33, 3) metres, hip-centred; NaN where not detected
    segments: list[list[tuple[int, int]]]  # per person, [start, stop) ranges of valid frames
    dropped_tracks: int = 0  # tracks dropped as noise (too few detected frames, or never confirmed)
    stats: dict[str, Any] = field(default_factory=dict)  # seconds per stage, model calls, frames

    def __len__(self) -> int:
        return len(self.track_id)

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @property
    def prominence(self) -> np.ndarray:
        """``(P,)`` sum over valid frames of the box area (mean area x frames), pixels^2."""
        return prominence(self.boxes, self.valid)

    def by_prominence(self) -> np.ndarray:
        """``(P,)`` person indices, most prominent first."""
        return np.argsort(-self.prominence, kind="stable")

    def select(self, index: Sequence[int] | np.ndarray) -> "People":
        """The people at ``index`` (in that order), e.g. ``people.select(people.by_prominence()[:K])``."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        return replace(
            self, track_id=self.track_id[idx], detected=self.detected[idx], valid=self.valid[idx],
            boxes=self.boxes[idx], landmarks=self.landmarks[idx], visibility=self.visibility[idx],
            world=self.world[idx], segments=[self.segments[i] for i in idx],
        )

    def most_prominent(self, k: int) -> "People":
        return self.select(self.by_prominence()[:k])

    def find(self, box: Sequence[float], frames: int = 10, min_iou: float = 0.1) -> int | None:
        """Index of the person a box drawn on the clip's first frame is around (:func:`find_track`)."""
        return find_track(self.boxes, self.valid, box, frames, min_iou)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (people, frames with somebody, segments, dropped tracks)."""
        return {
            "people": len(self),
            "frames": self.num_frames,
            "frames_with_people": int(self.valid.any(0).sum()) if len(self) else 0,
            "track_ids": [int(t) for t in self.track_id],
            "detected_frames": [int(d) for d in self.detected.sum(1)],
            "segments": [[list(s) for s in segs] for segs in self.segments],
            "dropped_tracks": int(self.dropped_tracks),
        }


def build_people(
    observations: Sequence[Sequence[tuple[int, Observation]]],
    times: Sequence[float],
    image_size: tuple[int, int],
    config: PeopleConfig = PeopleConfig(),
) -> People:
    """The post pass: per-frame ``(track_id, Observation)`` lists -> :class:`People`.

    Args:
        observations: one list per frame, as :meth:`PeopleTracker.update` returns them.
        times: ``(N,)`` frame times, seconds.
        image_size: ``(width, height)``.
        config: ``max_gap``, ``min_track_frames``, ``min_segment``, ``smooth_sigma``.
    """
    from glot.video.boxes import build_track

    n = len(times)
    ids = sorted({tid for frame in observations for tid, _ in frame})
    row = {tid: i for i, tid in enumerate(ids)}
    p = len(ids)
    # first the boxes of every track (small), to decide which are kept
    raw = np.full((p, n, 4), np.nan)
    last_verified = np.full(p, -1)
    given_up = np.zeros(p, bool)  # the last observation says the person is not (or no longer) verified
    for t, frame in enumerate(observations):
        for tid, obs in frame:
            i = row[tid]
            raw[i, t] = obs.box
            if obs.verified:
                last_verified[i] = t
            given_up[i] = not obs.confirmed
    # a person given up had drifted onto a texture after the detector last verified them: their
    # frames after the next check that was due are cut
    late = given_up[:, None] & (np.arange(n)[None] > (last_verified + config.verify_interval)[:, None])
    raw[late] = np.nan
    detected = np.isfinite(raw).all(-1)
    # a clip shorter than the minimum lengths is one piece: its people are not noise
    min_track, min_segment = min(config.min_track_frames, n), min(config.min_segment, n)
    keep_idx = np.flatnonzero((detected.sum(1) >= min_track) & (last_verified >= 0))
    tracks = [build_track(raw[i], detected[i], config.max_gap, min_segment, config.smooth_sigma)
              for i in keep_idx]
    alive = [j for j, tr in enumerate(tracks) if tr.segments]  # every piece too short: noise as well
    keep_idx, tracks = keep_idx[alive], [tracks[j] for j in alive]
    k = len(tracks)
    det = np.array([tr.detected for tr in tracks], dtype=bool).reshape(k, n)
    # then the landmarks of the people kept
    out = {int(i): j for j, i in enumerate(keep_idx)}
    lms = np.full((k, n, NUM_LANDMARKS, 3), np.nan)
    vis = np.zeros((k, n, NUM_LANDMARKS))
    world = np.full((k, n, NUM_LANDMARKS, 3), np.nan)
    for t, frame in enumerate(observations):
        for tid, obs in frame:
            j = out.get(row[tid])
            if j is not None and det[j, t]:
                lms[j, t], vis[j, t], world[j, t] = obs.landmarks, obs.visibility, obs.world
    return People(
        track_id=np.asarray(ids, dtype=np.int64)[keep_idx],
        times=np.asarray(times, dtype=np.float64),
        image_size=(int(image_size[0]), int(image_size[1])),
        detected=det,
        valid=np.array([tr.valid for tr in tracks], dtype=bool).reshape(k, n),
        boxes=np.array([tr.boxes for tr in tracks], dtype=np.float64).reshape(k, n, 4),
        landmarks=lms,
        visibility=vis,
        world=world,
        segments=[tr.segments for tr in tracks],
        dropped_tracks=int(p - len(keep_idx)),
    )


def track_people(
    frames: Iterable[Any],
    config: PeopleConfig = PeopleConfig(),
    progress: Callable[[int], None] | None = None,
) -> People:
    """Find and track everybody through ``frames`` (streamed: only landmarks are kept).

    Args:
        frames: objects with ``.image`` ``(H, W, 3)`` uint8 RGB and ``.time`` (s), e.g.
            :func:`glot.video.decode.iter_frames`.
        config: settings.
        progress: called with the number of frames done.
    Returns:
        :class:`People` (its ``stats`` hold seconds per stage and model calls).
    """
    per_frame: list[list[tuple[int, Observation]]] = []
    times: list[float] = []
    size = (0, 0)
    with PeopleTracker(config) as tracker:
        if progress is not None:
            progress(0)  # the models are ready (a first tracker in a process takes ~1 s): a stopped run ends here
        for i, fr in enumerate(frames):
            image = fr.image
            size = (image.shape[1], image.shape[0])
            per_frame.append(tracker.update(image, float(fr.time)))
            times.append(float(fr.time))
            if progress is not None:
                progress(i + 1)
        stats = {"seconds": dict(tracker.seconds), "calls": tracker.calls, "frames": len(times)}
    people = build_people(per_frame, times, size, config)
    return replace(people, stats=stats)
