"""Per-frame GLoT estimates from per-frame features: windows, masks, batched forwards.

Every frame of every person's segments is the centre of one window; the windows of all people
go through the model together, in batches (the cost of P people grows with their frames, not
with P forward passes).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Sequence

import numpy as np
import torch

from ..model import GLoT
from ..model.masking import random_mask
from ..video.windows import window_indices
from .options import RunOptions

__all__ = ["BranchResult", "regress_frames", "regress_people", "occlusion_mask", "segment_windows"]

Gpu = Callable[..., object]  # gpu(fn, *args, work=n) -> fn(*args): where accelerator work runs


def _direct(fn: Callable, *args, work: int = 0):
    return fn(*args)


@dataclass
class BranchResult:
    """One branch's estimate for frames with leading dims ``(*L)`` (``(L,)`` or ``(P, N)``), numpy float32.

    rotmat ``(*L, 24, 3, 3)``, pose ``(*L, 72)`` axis-angle, betas ``(*L, 10)``, cam ``(*L, 3)`` crop
    camera, joints3d ``(*L, 49, 3)``, joints2d ``(*L, 49, 2)`` normalised crop coordinates. NaN where
    there is no estimate.
    """

    rotmat: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    cam: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray

    @classmethod
    def empty(cls, lead: int | tuple[int, ...], num_joints: int = 49) -> "BranchResult":
        lead = (lead,) if isinstance(lead, int) else tuple(lead)
        nan = np.float32(np.nan)
        full = lambda *s: np.full(lead + s, nan, np.float32)  # noqa: E731
        return cls(rotmat=full(24, 3, 3), pose=full(72), betas=full(10), cam=full(3),
                   joints3d=full(num_joints, 3), joints2d=full(num_joints, 2))

    def assign(self, rows, other: "BranchResult") -> None:
        """``self[rows] = other`` for every array (``rows``: any numpy index of the leading dims)."""
        for f in fields(self):
            getattr(self, f.name)[rows] = getattr(other, f.name)

    def take(self, rows) -> "BranchResult":
        """The estimate at ``rows`` (any numpy index of the leading dims)."""
        return BranchResult(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def occlusion_mask(num_frames: int, options: RunOptions, seqlen: int) -> np.ndarray | None:
    """Video-level occluded frames for ``mask_pattern="block"``: ``(N,)`` bool, or None."""
    if options.mask_pattern != "block" or options.mask_ratio <= 0:
        return None
    length = max(1, int(round(options.mask_ratio * seqlen)))
    start = options.mask_start if options.mask_start is not None else (num_frames - length) // 2
    occ = np.zeros(num_frames, dtype=bool)
    occ[max(0, start):max(0, start + length)] = True
    return occ


def segment_windows(segments: Sequence[tuple[int, int]], seqlen: int, edge: str) -> tuple[np.ndarray, np.ndarray]:
    """The windows of every frame of ``segments`` (each segment windowed on its own).

    Returns:
        ``centres (M,)`` frame indices and ``idx (M, T)`` the frame indices of their windows.
    """
    centres, idx = [], []
    for a, b in segments:
        centres.append(np.arange(a, b))
        idx.append(window_indices(b - a, seqlen, edge) + a)
    if not centres:
        return np.zeros(0, np.int64), np.zeros((0, seqlen), np.int64)
    return np.concatenate(centres), np.concatenate(idx)


def _pack(parts) -> BranchResult:
    cat = lambda name: torch.cat([getattr(p, name) for p in parts]).numpy()  # noqa: E731
    return BranchResult(rotmat=cat("rotmat"), pose=cat("theta")[:, 3:75], betas=cat("betas"), cam=cat("cam"),
                        joints3d=cat("kp_3d"), joints2d=cat("kp_2d"))


@torch.inference_mode()
def _forward_windows(model: GLoT, features: torch.Tensor, rows: torch.Tensor | None, windows: torch.Tensor,
                     masks: torch.Tensor | None, local_width: int | None) -> tuple[BranchResult, BranchResult]:
    """GLoT on the windows ``features[rows[:, None], windows]`` ``(B, T)`` (``masks (B, T)``): both
    branches' centre frames, on the CPU (``forward_clip``: each frame's share of the work done once)."""
    out = model.forward_clip(features, windows, rows=rows, mask=masks, local_width=local_width,
                             need_verts=False, need_global_verts=False)
    glob = out.global_.map(lambda t: t[:, 0].float().cpu())
    final = out.final.map(lambda t: t.float().cpu())
    return _pack([glob]), _pack([final])


def _regress(model: GLoT, features: torch.Tensor, rows: np.ndarray, idx: np.ndarray, options: RunOptions,
             occluded: np.ndarray | None, generator: torch.Generator | None, progress: Callable[[int], None] | None,
             gpu: Gpu) -> tuple[BranchResult, BranchResult]:
    """The one batching loop: windows ``features[rows[:, None], idx]`` ``(M, T, F)`` in batches."""
    T = idx.shape[1]
    glob, final = [], []
    for start in range(0, len(idx), options.batch_size):
        sl = slice(start, start + options.batch_size)
        w_idx = torch.from_numpy(idx[sl])
        w_rows = torch.from_numpy(rows[sl]) if rows is not None else None
        mask = None
        if options.mask_pattern == "random" and options.mask_ratio > 0:
            mask, _ = random_mask(w_idx.shape[0], T, options.mask_ratio, generator=generator)
        elif occluded is not None:
            mask = torch.from_numpy(occluded)[w_idx]
        g, f = gpu(_forward_windows, model, features, w_rows, w_idx, mask, options.local_width, work=w_idx.shape[0])
        glob.append(g)
        final.append(f)
        if progress is not None:
            progress(min(start + w_idx.shape[0], len(idx)))
    if not glob:
        return BranchResult.empty(0), BranchResult.empty(0)
    cat = lambda parts: BranchResult(**{k.name: np.concatenate([getattr(p, k.name) for p in parts])  # noqa: E731
                                        for k in fields(BranchResult)})
    return cat(glob), cat(final)


def regress_frames(
    model: GLoT,
    features: torch.Tensor,
    options: RunOptions,
    occluded: np.ndarray | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[BranchResult, BranchResult]:
    """GLoT on every frame of one continuous segment (each frame = the centre of its window).

    Args:
        features: ``(L, F)`` per-frame features.
        occluded: ``(L,)`` frames hidden from the global encoder (block masking).
        generator: seeded generator for random masking.
        progress: called with the number of frames done.
    Returns:
        ``(global, final)`` :class:`BranchResult` of ``L`` frames.
    """
    L = features.shape[0]
    _, idx = segment_windows([(0, L)], options.window or model.cfg.seqlen, options.edge)
    return _regress(model, features, None, idx, options, occluded, generator, progress, _direct)


def regress_people(
    model: GLoT,
    features: torch.Tensor,
    segments: Sequence[Sequence[tuple[int, int]]],
    options: RunOptions,
    occluded: np.ndarray | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int], None] | None = None,
    gpu: Gpu = _direct,
) -> tuple[BranchResult, BranchResult]:
    """GLoT on every frame of every person's segments, all people's windows batched together.

    Args:
        features: ``(P, N, F)`` per-person, per-frame features (only frames inside segments are read).
        segments: per person, ``[start, stop)`` frame ranges (each windowed on its own).
        occluded: ``(N,)`` video frames hidden from the global encoder (block masking).
        gpu: runs each batch's forward (``gpu(fn, *args, work=windows)``), e.g. inside ZeroGPU's slot.
    Returns:
        ``(global, final)`` :class:`BranchResult` of shape ``(P, N, ...)`` (NaN outside segments).
    """
    P, N = features.shape[:2]
    T = options.window or model.cfg.seqlen
    people, centres, windows = [], [], []
    for p, segs in enumerate(segments):
        c, idx = segment_windows(segs, T, options.edge)
        people.append(np.full(len(c), p, np.int64))
        centres.append(c)
        windows.append(idx)
    rows = np.concatenate(people) if people else np.zeros(0, np.int64)
    cen = np.concatenate(centres) if centres else np.zeros(0, np.int64)
    idx = np.concatenate(windows) if windows else np.zeros((0, T), np.int64)
    g, f = _regress(model, features, rows, idx, options, occluded, generator, progress, gpu)
    out = BranchResult.empty((P, N)), BranchResult.empty((P, N))
    if len(rows):
        out[0].assign((rows, cen), g)
        out[1].assign((rows, cen), f)
    return out
