"""Incremental results for streams: ``parts/results_NNNNN.npz`` chunks while running, then
``results.npz`` (the offline layout) and ``summary.json`` at the end."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline.regress import BranchResult
from ..pipeline.results import result_arrays
from .online import StreamFrame

__all__ = ["StreamWriter"]


def _stack(frames: list[StreamFrame], attr: str) -> BranchResult:
    rows = [getattr(f, attr) for f in frames]
    return BranchResult(**{k: np.concatenate([getattr(r, k) for r in rows]) for k in
                           ("rotmat", "pose", "betas", "cam", "joints3d", "joints2d")})


class StreamWriter:
    """Collects :class:`StreamFrame` s; writes a chunk every ``chunk`` frames."""

    def __init__(self, out_dir: str | Path, image_size: tuple[int, int], faces: np.ndarray, chunk: int = 300) -> None:
        self.out_dir = Path(out_dir)
        (self.out_dir / "parts").mkdir(parents=True, exist_ok=True)
        self.image_size = image_size
        self.faces = faces
        self.chunk = chunk
        self._pending: list[StreamFrame] = []
        self._all: list[StreamFrame] = []
        self._parts = 0

    def add(self, frames: list[StreamFrame]) -> None:
        self._pending.extend(frames)
        self._all.extend(frames)
        if len(self._pending) >= self.chunk:
            self._write_part()

    def _arrays(self, frames: list[StreamFrame]) -> dict[str, np.ndarray]:
        n = len(frames)
        return result_arrays(
            times=np.array([f.time for f in frames]), valid=np.ones(n, bool), detected=np.ones(n, bool),
            boxes=np.stack([f.box for f in frames]), segments=[],
            landmarks=np.stack([f.landmarks for f in frames]), visibility=np.stack([f.visibility for f in frames]),
            world=np.stack([f.world for f in frames]), image_size=self.image_size, faces=self.faces,
            branches={"global": _stack(frames, "global_"), "final": _stack(frames, "final")},
            frame_index=np.array([f.index for f in frames]))

    def _write_part(self) -> None:
        if self._pending:
            np.savez(self.out_dir / "parts" / f"results_{self._parts:05d}.npz", **self._arrays(self._pending))
            self._parts += 1
            self._pending = []

    def close(self, summary: dict[str, Any]) -> None:
        self._write_part()
        if self._all:
            arrays = self._arrays(self._all)
            idx = arrays["frame_index"]
            cuts = np.flatnonzero(np.diff(idx) != 1) + 1
            starts = np.concatenate([[0], cuts])
            stops = np.concatenate([cuts, [len(idx)]])
            arrays["segments"] = np.stack([idx[starts], idx[stops - 1] + 1], axis=1)
            np.savez_compressed(self.out_dir / "results.npz", **arrays)
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
