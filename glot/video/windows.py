"""Temporal windows: every frame is the centre of a T-frame window (the project's one implementation).

GLoT predicts the frame at index ``T // 2`` of its input window, so the window of frame ``t``
covers frames ``t - T//2 .. t + T - T//2 - 1``. Near the clip's ends the indices are clamped
into ``[0, N-1]`` (edge frames still see real neighbours; clips shorter than T work), or, with
``edge="official"``, the official demo's behaviour is reproduced: the first ``T//2`` and last
``T - T//2 - 1`` frames see their own feature repeated T times.
"""
from __future__ import annotations

import numpy as np

__all__ = ["EDGE_MODES", "window_indices"]

EDGE_MODES = ("clamp", "official")


def window_indices(num_frames: int, seqlen: int, edge: str = "clamp", centres: np.ndarray | None = None) -> np.ndarray:
    """Frame indices of the window centred on each frame.

    Args:
        num_frames: N >= 1 frames in the clip (or segment; for a live stream, the frames so far).
        seqlen: T >= 1 frames per window.
        edge: ``"clamp"`` (default) or ``"official"`` (see module docstring).
        centres: only these frames' windows (default: all N).
    Returns:
        ``(N, T)`` int64 (or ``(len(centres), T)``); row ``t`` has ``t`` at column ``T // 2``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if seqlen < 1:
        raise ValueError(f"seqlen must be >= 1, got {seqlen}")
    if edge not in EDGE_MODES:
        raise ValueError(f"edge must be one of {EDGE_MODES}, got {edge!r}")
    half = seqlen // 2
    t = (np.arange(num_frames, dtype=np.int64) if centres is None else np.asarray(centres, dtype=np.int64))[:, None]
    offsets = np.arange(seqlen, dtype=np.int64)[None, :] - half  # (1, T)
    idx = t + offsets  # (N, T)
    if edge == "official":
        # frames without a full window on either side repeat themselves
        short = (t[:, 0] < half) | (t[:, 0] > num_frames - (seqlen - half))
        idx[short] = t[short]
    return np.clip(idx, 0, num_frames - 1)
