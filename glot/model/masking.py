"""Frame masking for the global branch (training's MAE-style masking, and the same at inference).

A mask is a ``(B, T)`` bool tensor, True = the frame is hidden from the global encoder and its
decoder slot is filled with the mean-parameter mask token.
"""
from __future__ import annotations

from typing import Iterable

import torch

__all__ = ["mask_from_noise", "random_mask", "block_mask", "frames_mask", "num_kept"]


def num_kept(seqlen: int, ratio: float) -> int:
    """Frames the encoder keeps: ``int(T * (1 - ratio))`` (the official count)."""
    return int(seqlen * (1 - ratio))


def mask_from_noise(noise: torch.Tensor, ratio: float) -> torch.Tensor:
    """``noise (B, T)`` -> mask ``(B, T)``: the ``int(T*(1-ratio))`` smallest-noise frames are kept."""
    B, T = noise.shape
    keep = num_kept(T, ratio)
    order = torch.argsort(noise, dim=1)
    mask = torch.ones(B, T, dtype=torch.bool, device=noise.device)
    mask.scatter_(1, order[:, :keep], False)
    return mask


def random_mask(batch: int, seqlen: int, ratio: float, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Training-style random masking. Returns ``(mask (B, T), noise (B, T))``."""
    noise = torch.rand(batch, seqlen, generator=generator)
    if device is not None:
        noise = noise.to(device)
    return mask_from_noise(noise, ratio), noise


def block_mask(seqlen: int, start: int, length: int) -> torch.Tensor:
    """A contiguous block of ``length`` frames from ``start`` (clipped to the window): ``(T,)``."""
    m = torch.zeros(seqlen, dtype=torch.bool)
    m[max(start, 0):max(min(start + length, seqlen), 0)] = True
    return m


def frames_mask(seqlen: int, frames: Iterable[int]) -> torch.Tensor:
    """Mask the listed window positions: ``(T,)``."""
    m = torch.zeros(seqlen, dtype=torch.bool)
    for f in frames:
        if not 0 <= int(f) < seqlen:
            raise ValueError(f"masked frame {f} is outside the window 0..{seqlen - 1}")
        m[int(f)] = True
    return m
