"""Incremental results for streams: ``parts/results_NNNNN.npz`` chunks while running, then
``results.npz`` (the offline layout, person axis first) and ``summary.json`` at the end."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline.options import BRANCHES
from ..pipeline.regress import BranchResult
from ..pipeline.results import result_arrays
from ..video.boxes import find_segments
from .online import StreamFrame

__all__ = ["StreamWriter", "stream_arrays"]


def stream_arrays(frames: list[StreamFrame], times: np.ndarray, image_size: tuple[int, int], faces: np.ndarray,
                  frame_index: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ``results.npz`` arrays of emitted frames over the stream's ``N`` frames (``times (N,)``;
    ``frame_index``: the stream's frame number of each row, default ``0..N-1``)."""
    n = len(times)
    rows = np.arange(n) if frame_index is None else np.asarray(frame_index)
    at = {int(i): k for k, i in enumerate(rows)}
    ids = sorted({f.track_id for f in frames})
    P = len(ids)
    person = {tid: p for p, tid in enumerate(ids)}
    valid = np.zeros((P, n), bool)
    boxes = np.full((P, n, 4), np.nan)
    lm = np.full((P, n, 33, 3), np.nan)
    vis = np.zeros((P, n, 33))
    world = np.full((P, n, 33, 3), np.nan)
    branches = {b: BranchResult.empty((P, n)) for b in BRANCHES}
    for f in frames:
        p, t = person[f.track_id], at[f.index]
        valid[p, t] = True
        boxes[p, t], lm[p, t], vis[p, t], world[p, t] = f.box, f.landmarks, f.visibility, f.world
        for b, attr in (("global", "global_"), ("final", "final")):
            branches[b].assign((p, t), getattr(f, attr).take(0))
    detected = valid & np.isfinite(lm).all((-1, -2))
    segments = [find_segments(valid[p]) for p in range(P)]
    return result_arrays(times, np.asarray(ids, np.int64), valid, detected, boxes, segments, lm, vis, world,
                         image_size, faces, branches, frame_index=rows)


class StreamWriter:
    """Collects :class:`StreamFrame` s; writes a chunk of the frames emitted every ``chunk`` frames."""

    def __init__(self, out_dir: str | Path, image_size: tuple[int, int], faces: np.ndarray, chunk: int = 300) -> None:
        self.out_dir = Path(out_dir)
        (self.out_dir / "parts").mkdir(parents=True, exist_ok=True)
        self.image_size = image_size
        self.faces = faces
        self.chunk = chunk
        self._times: list[float] = []
        self._pending: list[StreamFrame] = []
        self._all: list[StreamFrame] = []
        self._parts = 0
        self._part_start = 0

    def frame(self, time: float) -> None:
        """One more frame in the stream (emitted or not)."""
        self._times.append(float(time))

    def add(self, frames: list[StreamFrame]) -> None:
        self._pending.extend(frames)
        self._all.extend(frames)
        if len(self._times) - self._part_start >= self.chunk:
            self._write_part()

    def _write_part(self) -> None:
        if not self._pending:
            return
        lo = min(f.index for f in self._pending)
        hi = max(f.index for f in self._pending) + 1
        arrays = stream_arrays(self._pending, np.asarray(self._times[lo:hi]), self.image_size, self.faces,
                               frame_index=np.arange(lo, hi))
        np.savez(self.out_dir / "parts" / f"results_{self._parts:05d}.npz", **arrays)
        self._parts += 1
        self._pending = []
        self._part_start = len(self._times)

    def close(self, summary: dict[str, Any]) -> None:
        self._write_part()
        arrays = stream_arrays(self._all, np.asarray(self._times), self.image_size, self.faces)
        np.savez_compressed(self.out_dir / "results.npz", **arrays)
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
