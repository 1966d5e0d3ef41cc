"""The official learning-rate schedule (``CosineAnnealingWarmupRestarts`` as configured by
``train_cosine_trans.py``), as a pure function of the epoch.

Epoch 0 runs at ``min_lr``; the rate then rises linearly to ``max_lr`` over ``warmup`` epochs and
follows a half cosine back towards ``min_lr`` at ``epochs`` (one cycle, no restart within the run).
The official run steps it once per epoch with ``min_lr = 0.1 * max_lr``, ``warmup = LR_PATIENCE``.
"""
from __future__ import annotations

import math

__all__ = ["cosine_warmup_lr"]


def cosine_warmup_lr(epoch: float, epochs: int, max_lr: float, min_lr: float, warmup: int) -> float:
    """Learning rate at ``epoch`` (may be fractional for per-iteration updates).

    Args:
        epoch: 0-based position in the run; epochs: cycle length (``END_EPOCH``).
        max_lr, min_lr: peak and floor; warmup: linear warm-up epochs (``< epochs``).
    """
    if warmup >= epochs:
        raise ValueError(f"warm-up ({warmup}) must be shorter than the run ({epochs} epochs)")
    e = epoch % epochs  # the official scheduler restarts after a full cycle
    if e < warmup:
        return min_lr + (max_lr - min_lr) * e / warmup
    return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * (e - warmup) / (epochs - warmup))) / 2
