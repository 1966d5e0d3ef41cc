"""Per-frame GLoT estimates from per-frame features: windows, masks, batched forwards."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
import torch

from ..model import GLoT
from ..model.masking import random_mask
from ..video.windows import window_indices
from .options import RunOptions

__all__ = ["BranchResult", "regress_frames", "occlusion_mask"]


@dataclass
class BranchResult:
    """One branch's estimate for ``L`` frames (numpy, float32).

    rotmat ``(L, 24, 3, 3)``, pose ``(L, 72)`` axis-angle, betas ``(L, 10)``, cam ``(L, 3)`` crop
    camera, joints3d ``(L, 49, 3)``, joints2d ``(L, 49, 2)`` normalised crop coordinates.
    """

    rotmat: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    cam: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray

    @classmethod
    def empty(cls, n: int, num_joints: int = 49) -> "BranchResult":
        nan = np.float32(np.nan)
        return cls(rotmat=np.full((n, 24, 3, 3), nan, np.float32), pose=np.full((n, 72), nan, np.float32),
                   betas=np.full((n, 10), nan, np.float32), cam=np.full((n, 3), nan, np.float32),
                   joints3d=np.full((n, num_joints, 3), nan, np.float32),
                   joints2d=np.full((n, num_joints, 2), nan, np.float32))

    def assign(self, rows: np.ndarray, other: "BranchResult") -> None:
        for f in fields(self):
            getattr(self, f.name)[rows] = getattr(other, f.name)


def occlusion_mask(num_frames: int, options: RunOptions, seqlen: int) -> np.ndarray | None:
    """Video-level occluded frames for ``mask_pattern="block"``: ``(N,)`` bool, or None."""
    if options.mask_pattern != "block" or options.mask_ratio <= 0:
        return None
    length = max(1, int(round(options.mask_ratio * seqlen)))
    start = options.mask_start if options.mask_start is not None else (num_frames - length) // 2
    occ = np.zeros(num_frames, dtype=bool)
    occ[max(0, start):max(0, start + length)] = True
    return occ


@torch.inference_mode()
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
    T = options.window or model.cfg.seqlen
    idx = torch.from_numpy(window_indices(L, T, options.edge))  # (L, T)
    occ = torch.from_numpy(occluded) if occluded is not None else None
    glob, final = [], []
    dev = model.device
    for start in range(0, L, options.batch_size):
        rows = idx[start:start + options.batch_size]
        x = features[rows.to(features.device)].to(dev)  # (b, T, F)
        mask = None
        if options.mask_pattern == "random" and options.mask_ratio > 0:
            mask, _ = random_mask(rows.shape[0], T, options.mask_ratio, generator=generator)
        elif occ is not None:
            mask = occ[rows]
        if mask is not None:
            mask = mask.to(dev)
        out = model(x, mask=mask, local_width=options.local_width, need_verts=False, need_global_verts=False)
        glob.append(out.global_.map(lambda t: t[:, 0].float().cpu()))
        final.append(out.final.map(lambda t: t.float().cpu()))
        if progress is not None:
            progress(min(start + rows.shape[0], L))

    def pack(parts) -> BranchResult:
        cat = lambda name: torch.cat([getattr(p, name) for p in parts]).numpy()  # noqa: E731
        return BranchResult(rotmat=cat("rotmat"), pose=cat("theta")[:, 3:75], betas=cat("betas"), cam=cat("cam"),
                            joints3d=cat("kp_3d"), joints2d=cat("kp_2d"))

    return pack(glob), pack(final)
