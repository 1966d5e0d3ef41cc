"""Hand-written reference computations shared by tests (not a test module)."""
from __future__ import annotations

import numpy as np


def hand_resample(e: np.ndarray, n: int) -> np.ndarray:
    """Resample ``e (L, ...)`` to ``n`` rows by linear interpolation with both ends on the end
    samples: new row ``i`` sits at old position ``i * (L - 1) / (n - 1)``. float64."""
    L = e.shape[0]
    out = np.zeros((n,) + e.shape[1:], np.float64)
    for i in range(n):
        x = i * (L - 1) / (n - 1) if n > 1 else 0.0
        lo = int(np.floor(x))
        hi = min(lo + 1, L - 1)
        f = x - lo
        out[i] = (1 - f) * e[lo] + f * e[hi]
    return out
