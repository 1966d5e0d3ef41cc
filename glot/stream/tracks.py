"""Each tracked person's frames as they arrive, decided with the offline post pass's rules.

Once a clip is over, :func:`glot.perception.people.build_people` keeps, per track: the detections
(minus, for a track that ends *given up* by the detector's checks, those more than
``verify_interval`` frames after its last verification); the track only if it has at least
``min_track_frames`` of them and was verified once; runs of detections whose gaps are at most
``max_gap`` frames, the gaps filled with interpolated boxes (:func:`glot.video.boxes.interpolate_gaps`);
and of those runs the ones at least ``min_segment`` frames long (its segments). :class:`LiveTrack`
applies the same rules while the stream goes: :meth:`LiveTrack.frontier` is the last frame up to
which nothing that comes later can change what is kept or the boxes, so what a stream emits up to
there equals what the offline pass keeps (box smoothing aside: it needs the future).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..perception.tracker import Observation, PeopleConfig
from ..video.boxes import interpolate_gaps

__all__ = ["LiveTrack"]


@dataclass
class LiveTrack:
    """One identity's frames as a stream goes (see the module docstring)."""

    track_id: int
    config: PeopleConfig
    detections: dict[int, Observation] = field(default_factory=dict)  # frame -> observation
    last_verified: int = -1
    given_up: bool = False

    def observe(self, index: int, obs: Observation) -> None:
        self.detections[index] = obs
        if obs.verified:
            self.last_verified = index
        self.given_up = not obs.confirmed

    def _kept(self, final: bool) -> list[int]:
        """Detections the offline pass keeps (the give-up cut applies once the stream is over)."""
        frames = sorted(self.detections)
        if final and self.given_up:
            frames = [i for i in frames if i <= self.last_verified + self.config.verify_interval]
        return frames

    def runs(self, final: bool = False) -> list[tuple[int, int]]:
        """``(first, last)`` detection of each run (gaps of at most ``max_gap`` frames inside)."""
        out: list[list[int]] = []
        for i in self._kept(final):
            if out and i - out[-1][1] - 1 <= self.config.max_gap:
                out[-1][1] = i
            else:
                out.append([i, i])
        return [(a, b) for a, b in out]

    def frontier(self, now: int, final: bool = False) -> int:
        """The last frame whose fate (kept or not, and its box) no later frame can change; -1: none yet.

        ``now``: the newest frame index; ``final``: the stream is over (everything is decided: the
        caller then applies the minimum lengths for the whole stream, as the offline pass does).
        """
        if self.last_verified < 0:
            return now if final else -1  # never verified: noise (decided only at the end)
        kept = self._kept(final)
        if final:
            return now
        if len(kept) < self.config.min_track_frames:
            return -1  # not (yet) enough of a track (a short clip's rule is applied at the end)
        safe = self.last_verified + self.config.verify_interval  # later give-ups cannot cut these
        last = kept[-1]
        frontier = now if now - last > self.config.max_gap else last  # after `last`: a gap may still close
        frontier = min(frontier, safe)
        a, b = self.runs()[-1]
        if b - a + 1 < self.config.min_segment and frontier >= a:
            frontier = a - 1  # the last run may still be a blip or grow into a segment
        return frontier

    def keeps(self, clip_frames: int) -> bool:
        """At the end of a stream of ``clip_frames`` frames: does the offline pass keep this track?"""
        return self.last_verified >= 0 and len(self._kept(True)) >= min(self.config.min_track_frames, clip_frames)

    def segments(self, final: bool = False, clip_frames: int | None = None) -> list[tuple[int, int]]:
        """``[start, stop)`` of the runs long enough to be segments (the last one may still grow).

        ``clip_frames``: with ``final``, the stream's length (a short stream relaxes the minimum).
        """
        need = self.config.min_segment if not final else min(self.config.min_segment, max(clip_frames or 1, 1))
        return [(a, b + 1) for a, b in self.runs(final) if b - a + 1 >= need]

    def boxes(self, start: int, stop: int) -> np.ndarray:
        """``(stop - start, 4)`` boxes of frames inside one run: detections' own, gaps interpolated."""
        raw = np.full((stop - start, 4), np.nan)
        for k in range(start, stop):
            if k in self.detections:
                raw[k - start] = self.detections[k].box
        filled, _ = interpolate_gaps(raw, np.isfinite(raw).all(1), self.config.max_gap)
        return filled
