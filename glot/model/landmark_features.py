"""Per-frame GLoT input built from MediaPipe Pose output (the open model's feature extractor).

One function, used both to make training data (synthetic landmarks) and at inference (each
tracked person's landmarks, :func:`glot.pipeline.features.landmark_people_features`), so the two
can never drift apart.

Feature layout per frame (``LANDMARK_FEATURE_DIM`` = 231), all in the crop frame that the ResNet
path would see (the tracker's square box enlarged by ``BOX_SCALE`` = 1.2):

* ``[0:66]``    33 image landmarks ``(x, y)`` in crop coordinates ([-1, 1] inside the crop);
* ``[66:99]``   their relative depth ``z`` on the same scale, clipped to +-5;
* ``[99:132]``  visibility (0 on frames where MediaPipe found nobody);
* ``[132:231]`` 33 world landmarks ``(x, y, z)`` in metres (hip-centred, MediaPipe's axes).

Frames without a detection (NaN landmarks) get landmarks linearly interpolated in time from
the nearest detections (edges repeated) and visibility 0; all-NaN input gives zeros.
"""
from __future__ import annotations

import numpy as np

__all__ = ["LANDMARK_FEATURE_DIM", "NUM_LANDMARKS", "landmark_features", "LEFT_RIGHT_SWAP"]

NUM_LANDMARKS = 33
LANDMARK_FEATURE_DIM = NUM_LANDMARKS * 7
Z_CLIP = 5.0  # crop units
CROP_SCALE = 1.2  # = glot.video.BOX_SCALE (kept literal: this module must not import video code)

# BlazePose landmark index of each landmark's mirror image (nose and centre points map to themselves)
LEFT_RIGHT_SWAP: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19,
                                    22, 21, 24, 23, 26, 25, 28, 27, 30, 29, 32, 31)


def _fill_time(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames where ``ok`` is False: ``x (N, D)``, ``ok (N,)``."""
    if ok.all():
        return x
    if not ok.any():
        return np.zeros_like(x)
    t = np.arange(len(x))
    good = np.flatnonzero(ok)
    return np.stack([np.interp(t, good, x[good, d]) for d in range(x.shape[1])], axis=1)


def landmark_features(
    landmarks: np.ndarray,
    visibility: np.ndarray,
    world: np.ndarray,
    boxes: np.ndarray,
    crop_scale: float = CROP_SCALE,
) -> np.ndarray:
    """GLoT input features from MediaPipe landmarks of one continuous sequence.

    Args:
        landmarks: ``(N, 33, 3)`` image landmarks ``(x, y, z)`` in pixels (z on x's pixel scale);
            NaN rows where nobody was found.
        visibility: ``(N, 33)`` in [0, 1].
        world: ``(N, 33, 3)`` world landmarks, metres.
        boxes: ``(N, 4)`` square boxes ``(cx, cy, w, h)`` in pixels (the tracker's, before the crop
            enlargement ``crop_scale``); rows may be NaN only where landmarks are too.
        crop_scale: the crop's enlargement of the box.
    Returns:
        ``(N, 231)`` float32 (layout in the module docstring).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    n = lm.shape[0]
    if lm.shape[1:] != (NUM_LANDMARKS, 3):
        raise ValueError(f"landmarks must be (N, 33, 3), got {lm.shape}")
    vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64).reshape(n, NUM_LANDMARKS))
    wl = np.asarray(world, dtype=np.float64).reshape(n, NUM_LANDMARKS, 3)
    b = np.asarray(boxes, dtype=np.float64).reshape(n, 4)
    half = crop_scale * b[:, None, 2:3] / 2.0  # (N, 1, 1) half side of the crop in pixels
    xy = (lm[..., :2] - b[:, None, :2]) / half  # (N, 33, 2)
    z = np.clip(lm[..., 2:3] / half, -Z_CLIP, Z_CLIP)  # (N, 33, 1); MediaPipe's z can be huge
    img = np.concatenate([xy.reshape(n, -1), z.reshape(n, -1)], axis=1)  # (N, 99)
    ok = np.isfinite(img).all(1)
    img = _fill_time(np.nan_to_num(img), ok)
    w_ok = np.isfinite(wl).all((1, 2))
    w = _fill_time(np.nan_to_num(wl.reshape(n, -1)), w_ok)
    vis = np.where(ok[:, None], vis, 0.0)
    return np.concatenate([img, vis, w], axis=1).astype(np.float32)
