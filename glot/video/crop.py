"""224x224 person crops exactly as the official GLoT/VIBE demo makes them.

The box ``(cx, cy, w, h)`` is enlarged by ``scale`` (1.2), ``w`` and ``h`` independently (a
non-square box is stretched to the square crop), mapped to the crop by an affine transform
computed by OpenCV from three float32 point pairs, and warped with ``cv2.warpAffine``
(INTER_LINEAR, constant 0 border). Normalisation is ImageNet's (``/255``, mean, std) in float32.
Results equal the official ``get_single_image_crop_demo`` bit for bit with OpenCV 4.x.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np
import torch

__all__ = [
    "CROP_SIZE",
    "BOX_SCALE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Crops",
    "crop_transform",
    "crop_image",
    "transform_keypoints",
    "normalize_crops",
    "crop_frames",
]

CROP_SIZE = 224
BOX_SCALE = 1.2  # demo.py's bbox_scale
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Crops:
    """A batch of crops."""

    images: torch.Tensor  # (N, 3, S, S) float32, ImageNet-normalised
    trans: np.ndarray  # (N, 2, 3) float64 image -> crop affine
    raw: np.ndarray | None = None  # (N, S, S, 3) uint8 RGB before normalisation (if kept)


def crop_transform(
    cx: float, cy: float, w: float, h: float, crop_size: int = CROP_SIZE, scale: float = BOX_SCALE
) -> np.ndarray:
    """Image -> crop affine ``(2, 3)`` float64 for the box ``(cx, cy, w, h)`` scaled by ``scale``.

    Three points (centre, centre + half height down, centre + half width right) are mapped to
    the crop's centre, bottom-middle and right-middle. The points are float32, as in the
    official code, and OpenCV solves the system (which is why exact values matter).
    """
    half_w, half_h = w * scale * 0.5, h * scale * 0.5
    c = crop_size * 0.5
    src = np.array([[cx, cy], [cx, cy + half_h], [cx + half_w, cy]], dtype=np.float32)
    dst = np.array([[c, c], [c, c + c], [c + c, c]], dtype=np.float32)
    return cv2.getAffineTransform(src, dst)


def crop_image(
    image: np.ndarray, box: np.ndarray | Iterable[float], crop_size: int = CROP_SIZE, scale: float = BOX_SCALE
) -> tuple[np.ndarray, np.ndarray]:
    """Warp one crop.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        box: ``(4,)`` ``(cx, cy, w, h)`` in pixels (unscaled demo box).
    Returns:
        ``(crop (S, S, 3) uint8, trans (2, 3) float64)``.
    """
    cx, cy, w, h = (float(v) for v in box)
    trans = crop_transform(cx, cy, w, h, crop_size, scale)
    patch = cv2.warpAffine(
        image, trans, (int(crop_size), int(crop_size)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return patch, trans


def transform_keypoints(keypoints: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Map ``(J, >=2)`` image keypoints (x, y, ...) into the crop; extra columns are kept.

    Returns:
        ``(J, C)`` float64 copy with x, y replaced by ``trans @ (x, y, 1)``.
    """
    kp = np.asarray(keypoints, dtype=np.float64).copy()
    xy1 = np.concatenate([kp[:, :2], np.ones((kp.shape[0], 1))], axis=1)  # (J, 3)
    kp[:, :2] = xy1 @ np.asarray(trans, dtype=np.float64).T
    return kp


def normalize_crops(raw: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 RGB -> ``(N, 3, S, S)`` float32 ImageNet-normalised (ToTensor + Normalize)."""
    x = torch.as_tensor(np.asarray(raw)).permute(0, 3, 1, 2).to(torch.float32).div(255.0)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std).contiguous()


def crop_frames(
    images: Iterable[np.ndarray],
    boxes: np.ndarray,
    crop_size: int = CROP_SIZE,
    scale: float = BOX_SCALE,
    keep_raw: bool = False,
) -> Crops:
    """Crop a batch of frames, one box each.

    Args:
        images: N frames ``(H, W, 3)`` uint8 RGB (any iterable, consumed once).
        boxes: ``(N, 4)`` ``(cx, cy, w, h)``.
        keep_raw: also return the uint8 crops.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    raws, transs = [], []
    for img, box in zip(images, boxes):
        patch, trans = crop_image(img, box, crop_size, scale)
        raws.append(patch)
        transs.append(trans)
    if len(raws) != len(boxes):
        raise ValueError(f"got {len(raws)} images for {len(boxes)} boxes")
    raw = np.stack(raws) if raws else np.zeros((0, crop_size, crop_size, 3), np.uint8)
    trans = np.stack(transs) if transs else np.zeros((0, 2, 3))
    return Crops(images=normalize_crops(raw), trans=trans, raw=raw if keep_raw else None)
