"""Temporal windows centred on each frame (clamped edges and the official demo's edges)."""
from __future__ import annotations

import numpy as np
import pytest

from glot.video.windows import window_indices


@pytest.mark.parametrize("n, t", [(1, 16), (5, 16), (16, 16), (40, 16), (30, 9), (7, 1), (3, 2)])
def test_clamped_windows(n, t):
    w = window_indices(n, t)
    assert w.shape == (n, t) and w.dtype == np.int64
    assert (w >= 0).all() and (w < n).all()
    np.testing.assert_array_equal(w[:, t // 2], np.arange(n))  # frame t is the predicted (centre) one
    for i in range(n):  # contiguous t - T//2 .. t + T - T//2 - 1, clamped
        np.testing.assert_array_equal(w[i], np.clip(np.arange(i - t // 2, i + t - t // 2), 0, n - 1))


def test_official_edges():
    n, t = 40, 16
    w = window_indices(n, t, edge="official")
    for i in range(n):
        if i < t // 2 or i >= n - (t // 2 - 1):  # first T/2 and last T/2-1 frames repeat themselves
            np.testing.assert_array_equal(w[i], np.full(t, i))
        else:
            np.testing.assert_array_equal(w[i], np.arange(i - 8, i + 8))
    assert (w[8] == np.arange(0, 16)).all() and (w[n - 8] == np.arange(n - 16, n)).all()
    # clips shorter than a window: every frame repeats itself
    np.testing.assert_array_equal(window_indices(5, 16, edge="official"), np.repeat(np.arange(5)[:, None], 16, 1))


def test_bad_arguments():
    with pytest.raises(ValueError):
        window_indices(0, 16)
    with pytest.raises(ValueError):
        window_indices(10, 0)
    with pytest.raises(ValueError):
        window_indices(10, 16, edge="reflect")
