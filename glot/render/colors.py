"""Branch colours and the one colour convention of the render package.

A colour is ``(r, g, b)`` either as floats in ``[0, 1]`` or as ``0..255`` values; a colour whose
largest component is at most 1 is read as ``[0, 1]``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["Color", "GLOBAL_COLOR", "FINAL_COLOR", "to_rgb01"]

Color = Sequence[float]

GLOBAL_COLOR: tuple[float, float, float] = (0.55, 0.70, 0.95)  # light blue: global branch
FINAL_COLOR: tuple[float, float, float] = (0.95, 0.65, 0.45)  # orange: final (local-corrected)


def to_rgb01(color: Color) -> np.ndarray:
    """``(r, g, b)`` in ``[0, 1]`` or ``0..255`` -> ``(3,)`` float32 in ``[0, 1]``."""
    c = np.asarray(color, dtype=np.float32).reshape(-1)[:3]
    if c.shape != (3,):
        raise ValueError(f"colour needs 3 components, got {color!r}")
    return np.clip(c if c.max() <= 1.0 else c / 255.0, 0.0, 1.0)
