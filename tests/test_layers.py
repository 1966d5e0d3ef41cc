"""Building blocks whose breakage no fixture sees (the reference record runs without drop-path and
at the trained window length): stochastic depth and the time resampling of embeddings."""
from __future__ import annotations

import numpy as np
import torch

from glot.model.layers import DropPath, resample_time

from helpers_hand import hand_resample


def test_drop_path_keeps_or_drops_whole_samples_and_rescales_the_kept():
    p = 0.2
    dp = DropPath(p).train()
    torch.manual_seed(0)
    x = torch.rand(4000, 3, 5) + 0.5  # no zeros in the input
    y = dp(x)
    dropped = (y == 0).all(dim=(1, 2))
    kept = ~dropped
    # each sample is either dropped entirely or kept and divided by the keep probability
    assert torch.all((y != 0).all(dim=(1, 2)) | dropped)
    torch.testing.assert_close(y[kept], x[kept] / (1 - p), rtol=1e-6, atol=0)
    assert abs(float(dropped.float().mean()) - p) < 0.03  # 4000 draws: standard error 0.0063
    ones = dp(torch.ones(20000, 1))
    assert abs(float(ones.mean()) - 1.0) < 0.03  # unbiased: E[out] = x (std error 0.0035)
    # no training or rate 0: the identity
    assert torch.equal(DropPath(p).eval()(x), x)
    assert torch.equal(DropPath(0.0).train()(x), x)


def test_resample_time_is_the_hand_computed_interpolation():
    pos = torch.randn(1, 16, 7, generator=torch.Generator().manual_seed(0))
    assert resample_time(pos, 16) is pos
    for n in (24, 10, 31, 2):
        got = resample_time(pos, n)
        assert got.shape == (1, n, 7)
        np.testing.assert_allclose(got[0].numpy(), hand_resample(pos[0].double().numpy(), n), rtol=0, atol=1e-5)
    up = resample_time(pos, 31)  # 31 = 2 * 16 - 1: old samples at even rows, midpoints between them
    torch.testing.assert_close(up[0, ::2], pos[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(up[0, 1::2], (pos[0, :-1] + pos[0, 1:]) / 2, rtol=0, atol=1e-5)
