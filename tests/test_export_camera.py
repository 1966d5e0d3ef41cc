"""orig_cam_to_translation: a pinhole camera of the stated focal length puts the root where the
overlay's orthographic image camera does, at the same scale."""
from __future__ import annotations

import numpy as np
import pytest

from glot.camera import crop_cam_to_orig_img, orig_cam_to_translation
from glot.render.projection import project_orig_cam


def _pinhole(points: np.ndarray, f: float, width: int, height: int) -> np.ndarray:
    """Camera-frame points (y down, z forward) -> pixels, principal point at the image centre."""
    return points[..., :2] * f / points[..., 2:3] + np.array([width, height]) / 2.0


@pytest.mark.parametrize("focal", [None, 500.0, 5000.0])
def test_pinhole_reproduces_the_overlay_at_the_root(focal):
    width, height = 640, 360
    rng = np.random.default_rng(0)
    cam = np.stack([rng.uniform(0.3, 1.5, 6), rng.uniform(-0.3, 0.3, 6), rng.uniform(-0.2, 0.2, 6)], axis=1)
    box = np.stack([rng.uniform(100, 500, 6), rng.uniform(80, 280, 6), rng.uniform(150, 350, 6)], axis=1)
    orig_cam = crop_cam_to_orig_img(cam, box, width, height)
    root = np.array([0.01, -0.22, 0.03])  # a body-frame root joint (not at the origin)
    t = orig_cam_to_translation(orig_cam, width, height, focal, root=root)
    f = np.hypot(width, height) if focal is None else focal
    for k in range(6):
        overlay = project_orig_cam(root, orig_cam[k], width, height)[:2]
        np.testing.assert_allclose(_pinhole(root + t[k], f, width, height), overlay, atol=1e-4)
        # same pixels per metre at the root's depth: a 1 cm step sideways moves both alike
        step = np.array([0.01, 0.01, 0.0])
        moved = _pinhole(root + step + t[k], f, width, height) - _pinhole(root + t[k], f, width, height)
        want = project_orig_cam(root + step, orig_cam[k], width, height)[:2] - overlay
        np.testing.assert_allclose(moved, want, atol=1e-4)  # pixels; project_orig_cam is float32
    # the stated depth: d = 2 f / (sx W), and (tx, ty, d) for the body-frame origin
    d = 2 * f / (orig_cam[:, 0] * width)
    np.testing.assert_allclose(t[:, 2] + root[2], d, rtol=1e-12)
    np.testing.assert_allclose(orig_cam_to_translation(orig_cam, width, height, focal),
                               np.stack([orig_cam[:, 2], orig_cam[:, 3], d], axis=1), rtol=1e-12)


def test_bad_camera_is_refused():
    with pytest.raises(ValueError, match="focal length"):
        orig_cam_to_translation(np.array([[1.0, 1.0, 0.0, 0.0]]), 64, 64, focal_length=0.0)
    with pytest.raises(ValueError, match="scales must be positive"):
        orig_cam_to_translation(np.array([[0.0, 1.0, 0.0, 0.0]]), 64, 64)
