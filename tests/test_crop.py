"""Crops equal the official demo's (fixture ``crop``); camera conversion to the original image."""
from __future__ import annotations

import numpy as np
import torch

from glot.camera import crop_cam_to_orig_img
from glot.video.crop import crop_frames, crop_image, crop_transform, normalize_crops, transform_keypoints


def test_crops_equal_official(ref):
    c = ref["crop"]
    image = c["image"].numpy()
    boxes = c["bboxes"].numpy()
    assert c["scale"] == 1.2 and c["crop_size"] == 224
    for i, box in enumerate(boxes):
        raw, trans = crop_image(image, box)
        np.testing.assert_array_equal(raw, c["raw_crops"][i].numpy())
        np.testing.assert_allclose(trans, c["trans"][i].numpy(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(crop_transform(*box), trans, rtol=0, atol=0)
    crops = crop_frames([image, image], boxes, keep_raw=True)
    assert crops.images.shape == (2, 3, 224, 224) and crops.images.dtype == torch.float32
    np.testing.assert_array_equal(crops.raw, c["raw_crops"].numpy())
    torch.testing.assert_close(crops.images, c["norm_crops"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(crops.trans, c["trans"].numpy(), rtol=0, atol=1e-9)


def test_non_square_box_is_stretched(ref):
    c = ref["crop"]
    cx, cy, w, h = c["bboxes"][1].tolist()
    assert w != h
    t = crop_transform(cx, cy, w, h)
    np.testing.assert_allclose([t[0, 0], t[1, 1]], [224 / (1.2 * w), 224 / (1.2 * h)], rtol=1e-6)
    # the box centre goes to the crop centre, the border outside the image is black
    np.testing.assert_allclose(t @ [cx, cy, 1.0], [112, 112], atol=1e-4)
    raw = c["raw_crops"][1].numpy()
    assert (raw[-5:, :] == 0).all() and (raw[:, -5:] == 0).all()


def test_keypoints_follow_the_crop(ref):
    c = ref["crop"]
    trans = c["trans"][c["kp_2d_bbox_index"]].numpy()
    out = transform_keypoints(c["kp_2d_in"].numpy(), trans)
    np.testing.assert_allclose(out, c["kp_2d_out"].numpy(), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out[:, 2], c["kp_2d_in"][:, 2].numpy())  # confidence kept


def test_normalize_is_imagenet():
    raw = np.full((1, 4, 4, 3), 255, np.uint8)
    x = normalize_crops(raw)
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(x[0, :, 0, 0], expected)


def test_crop_cam_to_orig_img_matches_official(ref):
    cases = ref["crop"]["convert_crop_cam_to_orig_img"]
    assert len(cases) >= 2
    for case in cases:
        got = crop_cam_to_orig_img(case["cam"].numpy(), case["bbox"].numpy(), case["img_width"], case["img_height"])
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, case["orig_cam"].numpy(), rtol=0, atol=1e-9)
