"""Per-person, per-frame static features: the open model's landmark features, or SPIN's ResNet-50
on each person's official 224x224 crop."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from ..model.landmark_features import LANDMARK_FEATURE_DIM, landmark_features
from ..video import Frame, crop_frames
from .regress import Gpu, _direct

__all__ = ["landmark_people_features", "resnet_people_features"]


def landmark_people_features(people) -> torch.Tensor:
    """``(P, N, 231)`` float32 from each person's landmarks (zeros outside their segments; each
    segment is filled on its own, as :func:`glot.model.landmark_features.landmark_features` does)."""
    P, N = people.valid.shape
    out = np.zeros((P, N, LANDMARK_FEATURE_DIM), np.float32)
    for p, segs in enumerate(people.segments):
        for a, b in segs:
            out[p, a:b] = landmark_features(people.landmarks[p, a:b], people.visibility[p, a:b],
                                            people.world[p, a:b], people.boxes[p, a:b])
    return torch.from_numpy(out)


def _resnet(backbone, crops: torch.Tensor, batch_size: int, bf16: bool | None) -> np.ndarray:
    from ..model.backbone import extract_features

    return extract_features(backbone, crops, batch_size=batch_size, bf16=bf16).cpu().numpy()


def resnet_people_features(
    frames: Iterable[Frame],
    people,
    backbone: torch.nn.Module,
    feature_dim: int,
    batch_size: int = 32,
    bf16: bool | None = None,
    progress: Callable[[int], None] | None = None,
    gpu: Gpu = _direct,
) -> torch.Tensor:
    """ResNet-50 features of every valid person-frame: ``(P, N, F)`` float32 (zeros elsewhere).

    Decodes ``frames`` once; the crops of all people in consecutive frames share batches.
    """
    P, N = people.valid.shape
    feats = np.zeros((P, N, feature_dim), np.float32)
    imgs: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    where: list[tuple[int, int]] = []

    def flush() -> None:
        if not where:
            return
        crops = crop_frames(imgs, np.stack(boxes))
        out = gpu(_resnet, backbone, crops.images, batch_size, bf16, work=len(where))
        p_idx, t_idx = np.array(where).T
        feats[p_idx, t_idx] = out
        imgs.clear()
        boxes.clear()
        where.clear()

    for fr in frames:
        t = fr.index
        if t >= N:
            break
        for p in np.flatnonzero(people.valid[:, t]):
            imgs.append(fr.image)
            boxes.append(people.boxes[p, t])
            where.append((int(p), t))
        if len(where) >= batch_size:
            flush()
        if progress is not None:
            progress(t + 1)
    flush()
    return torch.from_numpy(feats)
