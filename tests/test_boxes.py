"""Person boxes from landmarks: square boxes, gap filling, segments, smoothing (pure numpy)."""
from __future__ import annotations

import numpy as np

from glot.video.boxes import boxes_from_landmarks, build_track, find_segments, interpolate_gaps, smooth_boxes


# ---------------------------------------------------------------- boxes (pure numpy)
def test_box_is_square_around_visible_landmarks():
    lm = np.zeros((2, 33, 3))
    rng = np.random.default_rng(0)
    lm[:, :, 0] = rng.uniform(100, 140, (2, 33))  # 40 wide
    lm[:, :, 1] = rng.uniform(50, 250, (2, 33))  # 200 tall
    vis = np.ones((2, 33))
    lm[1, 0, :2] = (1000, 1000)  # an off-screen guess...
    vis[1, 0] = 0.1  # ...with low visibility: ignored
    box = boxes_from_landmarks(lm, vis, scale=1.1)
    x, y = lm[0, :, 0], lm[0, :, 1]
    np.testing.assert_allclose(box[0], [(x.min() + x.max()) / 2, (y.min() + y.max()) / 2,
                                        1.1 * (y.max() - y.min()), 1.1 * (y.max() - y.min())])
    assert box[1, 2] == box[1, 3] < 1.1 * 200 + 1e-9
    assert box[1, 0] < 200


def test_box_falls_back_to_all_landmarks_and_nan():
    lm = np.random.default_rng(1).uniform(0, 100, (3, 33, 2))
    lm[2] = np.nan
    vis = np.zeros((3, 33))
    box = boxes_from_landmarks(lm, vis, min_points=4)
    side = 1.1 * np.maximum(np.ptp(lm[:2, :, 0], 1), np.ptp(lm[:2, :, 1], 1))
    np.testing.assert_allclose(box[:2, 2], side)
    assert np.isnan(box[2]).all()


def test_interpolate_short_gaps_only():
    n = 30
    boxes = np.stack([np.arange(n) * 2.0, np.full(n, 50.0), np.full(n, 100.0), np.full(n, 100.0)], 1)
    boxes[10, 2:] = 400.0  # size changes geometrically across a gap
    det = np.ones(n, bool)
    det[11:14] = False  # 3-frame gap: filled
    det[20:28] = False  # 8-frame gap: too long for max_gap=5
    filled, valid = interpolate_gaps(boxes, det, max_gap=5)
    assert valid[11:14].all() and not valid[20:28].any()
    np.testing.assert_allclose(filled[11:14, 0], [22, 24, 26])
    np.testing.assert_allclose(filled[11:14, 2], 400 * (100 / 400) ** (np.arange(1, 4) / 4))
    assert np.isnan(filled[20:28]).all()


def test_segments_and_smoothing():
    assert find_segments(np.array([0, 1, 1, 0, 1, 1, 1, 0, 1], bool)) == [(1, 3), (4, 7), (8, 9)]
    assert find_segments(np.array([0, 1, 1, 0, 1, 1, 1, 0, 1], bool), min_length=3) == [(4, 7)]
    rng = np.random.default_rng(0)
    n = 200
    truth = np.stack([np.linspace(100, 200, n), np.full(n, 300.0), np.full(n, 80.0), np.full(n, 80.0)], 1)
    noisy = truth + np.concatenate([rng.normal(0, 3, (n, 2)), np.zeros((n, 2))], 1)
    noisy[:, 3] = noisy[:, 2] = 80 * np.exp(rng.normal(0, 0.05, n))
    smooth = smooth_boxes(noisy, [(0, 100), (100, 200)], sigma=2.0)
    assert np.abs(smooth - truth)[:, :2].std() < 0.5 * np.abs(noisy - truth)[:, :2].std()
    np.testing.assert_array_equal(smooth[:, 2], smooth[:, 3])
    # segments are smoothed apart: a jump between them survives
    jump = noisy.copy()
    jump[100:, 0] += 500
    sm = smooth_boxes(jump, [(0, 100), (100, 200)], sigma=3.0)
    assert sm[100, 0] - sm[99, 0] > 450


def test_build_track_splits_on_long_absence_and_drops_blips():
    n = 100
    boxes = np.tile([50.0, 60.0, 40.0, 40.0], (n, 1))
    det = np.ones(n, bool)
    det[30:33] = False  # short gap: interpolated
    det[50:80] = False  # long absence: split
    det[65] = True  # isolated blip: dropped
    tr = build_track(boxes, det, max_gap=10, min_segment=5, sigma=1.0)
    assert tr.segments == [(0, 50), (80, 100)]
    assert tr.valid[30:33].all() and not tr.valid[50:80].any()
    assert not tr.detected[65]
    assert np.isnan(tr.boxes[65]).all()
    np.testing.assert_allclose(tr.boxes[tr.valid], np.tile([50.0, 60.0, 40.0, 40.0], (tr.valid.sum(), 1)))


# ---------------------------------------------------------------- MediaPipe on real footage
