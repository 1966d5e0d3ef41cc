"""Per-person, per-frame static features: the open model's landmark features, or SPIN's ResNet-50
on each person's official 224x224 crop."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from ..model.landmark_features import LANDMARK_FEATURE_DIM, landmark_features
from ..video import Frame, crop_frames
from .regress import Gpu, _direct

__all__ = ["landmark_people_features", "resnet_people_features", "CPU_CHUNK"]

# crops per ResNet-50 call on a CPU, with a progress report (where a run's Stop takes effect) between
# calls: 0.5 s of work on a slow 2-core CPU (fp32, 130 ms a crop), 3 % slower there than 32 at once
CPU_CHUNK = 4


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
    chunk: int | None = None,
) -> torch.Tensor:
    """ResNet-50 features of every valid person-frame: ``(P, N, F)`` float32 (zeros elsewhere).

    Decodes ``frames`` once; the crops of all people in consecutive frames share batches of
    ``batch_size``. ``chunk``: run a batch that many crops at a time with ``progress`` called in
    between (:data:`CPU_CHUNK` for a CPU backbone: a cancelled run then stops within a fraction of
    a second, not a batch); None = a batch per call.
    """
    P, N = people.valid.shape
    feats = np.zeros((P, N, feature_dim), np.float32)
    imgs: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    where: list[tuple[int, int]] = []

    def flush() -> None:
        if not where:
            return
        images = crop_frames(imgs, np.stack(boxes)).images
        p_idx, t_idx = np.array(where).T
        step = chunk if chunk and progress is not None else len(images)
        for a in range(0, len(images), step):
            if a:  # only when chunked, i.e. with a progress callback
                progress(int(t_idx[a]))  # frames before this crop's are done
            b = min(a + step, len(images))
            feats[p_idx[a:b], t_idx[a:b]] = gpu(_resnet, backbone, images[a:b], batch_size, bf16, work=b - a)
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
