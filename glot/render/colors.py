"""Branch colours and the one colour convention of the render package.

A colour is ``(r, g, b)`` either as floats in ``[0, 1]`` or as ``0..255`` values; a colour whose
largest component is at most 1 is read as ``[0, 1]``.
"""
from __future__ import annotations

from typing import Sequence

import colorsys

import numpy as np

__all__ = ["Color", "GLOBAL_COLOR", "FINAL_COLOR", "BRANCH_COLORS", "NUM_SHADES", "person_shade", "to_rgb01"]

Color = Sequence[float]

GLOBAL_COLOR: tuple[float, float, float] = (0.55, 0.70, 0.95)  # light blue: global branch
FINAL_COLOR: tuple[float, float, float] = (0.95, 0.65, 0.45)  # orange: final (local-corrected)
BRANCH_COLORS = {"global": GLOBAL_COLOR, "final": FINAL_COLOR}


def to_rgb01(color: Color) -> np.ndarray:
    """``(r, g, b)`` in ``[0, 1]`` or ``0..255`` -> ``(3,)`` float32 in ``[0, 1]``."""
    c = np.asarray(color, dtype=np.float32).reshape(-1)[:3]
    if c.shape != (3,):
        raise ValueError(f"colour needs 3 components, got {color!r}")
    return np.clip(c if c.max() <= 1.0 else c / 255.0, 0.0, 1.0)


# Per-person variations of a branch colour: (hue shift in turns, HLS lightness, saturation scale).
# Entry 0 is the branch colour itself; the others alternate dark and light so that neighbours in
# the list (people with consecutive ids) differ most. Distinct to the eye (>= 30/255 apart in RGB
# for both branch colours) and far from the other branch's shades.
_SHADES = ((0.0, None, 1.0), (-0.035, 0.42, 1.0), (0.035, 0.88, 1.0), (0.0, 0.58, 1.0),
           (0.06, 0.30, 1.0), (-0.06, 0.68, 0.7), (0.02, 0.50, 0.6), (-0.02, 0.80, 1.0))
NUM_SHADES = len(_SHADES)


def person_shade(branch_color: Color, index: int) -> tuple[float, float, float]:
    """The ``index``-th shade of a branch colour, ``(r, g, b)`` in ``[0, 1]``.

    ``index`` 0 is the branch colour; indices repeat every :data:`NUM_SHADES` (use a track id so
    that a person keeps their shade from frame to frame).
    """
    base = to_rgb01(branch_color).astype(np.float64)
    dh, light, sat = _SHADES[int(index) % NUM_SHADES]
    if light is None:
        return tuple(float(c) for c in base)  # type: ignore[return-value]
    h, _, s = colorsys.rgb_to_hls(*base)
    return colorsys.hls_to_rgb((h + dh) % 1.0, light, min(1.0, s * sat))
