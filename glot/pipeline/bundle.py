"""The models a video run needs: GLoT (with its body) and its per-frame feature source.

Two feature sources: the official GLoT reads SPIN's ResNet-50 features of person crops; the open
default model (``checkpoints/open/``, no licensed file needed) reads MediaPipe's landmarks from
the tracker (:mod:`glot.model.landmark_features`). :func:`load_bundle` uses the official weights
when they are found and falls back to the open model otherwise; ``describe()`` says which.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..assets import AssetNotFoundError, find_asset, search_dirs
from ..checkpoint import LoadedInfo, load_glot
from ..device import resolve_device
from ..model import GLoT
from ..model.backbone import load_spin_backbone

__all__ = ["ModelBundle", "load_bundle", "OFFICIAL_GLOT_NAMES", "find_glot_checkpoint", "FEATURE_SOURCES",
           "OPEN_MODEL_NAME"]

CHECKPOINT_ENV = "GLOT_CHECKPOINT"
# names of the released GLoT weights (any of them is used, in this order)
OFFICIAL_GLOT_NAMES = (
    "table1_3dpw_weights.pth.tar",
    "table2_3dpw_weights.pth.tar",
    "table1_h36m_mpii3d_weights.pth.tar",
    "glot.pth.tar",
)
FEATURE_SOURCES = ("resnet", "landmarks")  # crops -> SPIN ResNet-50 | tracked landmarks -> landmark features
OPEN_MODEL_NAME = "open default model (MediaPipe landmarks, open body)"
MODEL_CHOICES = ("auto", "official", "open")


@dataclass
class ModelBundle:
    """GLoT + its feature source on one device, and where they came from.

    ``feature_source == "resnet"``: ``backbone`` is SPIN's ResNet-50, fed with person crops;
    ``"landmarks"``: ``backbone`` is None and features come from the MediaPipe track.
    """

    glot: GLoT
    backbone: nn.Module | None
    info: LoadedInfo
    backbone_path: str
    device: torch.device
    feature_source: str = "resnet"
    note: str = ""  # why this model was chosen (e.g. the official weights were not found)
    _bf16_backbone: nn.Module | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # CPU copies of what the CPU side (render, export, drawing) needs: the accelerator's tensors are
        # only touched by accelerator work (on ZeroGPU, only inside the GPU slot)
        body = self.glot.body
        self.faces_array: np.ndarray = body.faces_tensor.detach().cpu().numpy().astype(np.int64)
        self.parents_array: np.ndarray = body.parents.detach().cpu().numpy().astype(np.int64)
        # the exporters read the body's rest shape and weights: their own CPU copy
        self.export_body = copy.deepcopy(body).cpu()

    @property
    def is_open_model(self) -> bool:
        return self.feature_source == "landmarks"

    @property
    def faces(self) -> np.ndarray:
        """``(F, 3)`` int64 mesh faces of the body (numpy, CPU)."""
        return self.faces_array

    def feature_net(self, bf16: bool | None = None) -> nn.Module | None:
        """The network that computes ResNet features at precision ``bf16`` (None: bf16 where the
        hardware has bf16 units): on a CPU in bf16, :func:`~glot.model.backbone.bf16_backbone`'s
        copy (built on first use), else :attr:`backbone` itself (autocast on CUDA)."""
        from ..model.backbone import bf16_backbone, resolve_bf16

        if self.backbone is None or self.device.type != "cpu" or not resolve_bf16(self.device, bf16):
            return self.backbone
        if self._bf16_backbone is None:
            self._bf16_backbone = bf16_backbone(self.backbone)
        return self._bf16_backbone

    def crop_features(self, crops: np.ndarray, bf16: bool | None = None) -> torch.Tensor:
        """ResNet features ``(N, F)`` float32 (CPU) of person crops ``(N, 224, 224, 3)`` uint8 RGB
        (:func:`glot.video.crop_image`), in one batch (for streams)."""
        from ..model.backbone import extract_features
        from ..video import normalize_crops

        x = normalize_crops(crops)
        return extract_features(self.feature_net(bf16), x, batch_size=max(len(x), 1), bf16=bf16).cpu()

    def describe(self) -> dict[str, str]:
        cfg = self.info.config
        out = {
            "model": OPEN_MODEL_NAME if self.is_open_model else "GLoT (official format)",
            "checkpoint": self.info.checkpoint,
            "body": self.info.body_source,
            "mean_params": self.info.mean_source,
            "feature_extractor": self.backbone_path,
            "window": str(cfg.seqlen),
            "local_width": str(cfg.stride_short),
            "device": str(self.device),
        }
        if self.note:
            out["note"] = self.note
        return out


def find_glot_checkpoint(assets_dir: str | os.PathLike | None = None) -> Path:
    """``$GLOT_CHECKPOINT``, else the first released GLoT weights found in the asset folders."""
    env = os.environ.get(CHECKPOINT_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise AssetNotFoundError(p.name, [str(p.parent)], f"the path set in ${CHECKPOINT_ENV}")
        return p
    try:
        return find_asset(OFFICIAL_GLOT_NAMES, assets_dir)  # type: ignore[return-value]
    except AssetNotFoundError:
        raise AssetNotFoundError(
            OFFICIAL_GLOT_NAMES[0], search_dirs(assets_dir),
            "the GLoT models folder linked from https://github.com/sxl142/GLoT#data-preparation "
            f"(or set ${CHECKPOINT_ENV} / pass --checkpoint)") from None


def load_bundle(
    checkpoint: str | os.PathLike | None = None,
    assets_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    spin_checkpoint: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
    model: str = "auto",
) -> ModelBundle:
    """Load GLoT and its feature source, locating missing paths with :mod:`glot.assets`.

    Args:
        model: ``"official"``: GLoT + SPIN's ResNet-50 (missing files raise
            :class:`AssetNotFoundError`); ``"open"``: the open default model in ``checkpoints/open/``
            (or ``checkpoint`` when given); ``"auto"``: official when its files are found, else open.
            An explicit ``checkpoint`` of the open model (231-d landmark input) is recognised.
    """
    if model not in MODEL_CHOICES:
        raise ValueError(f"model must be one of {MODEL_CHOICES}, got {model!r}")
    dev = resolve_device(device)
    if model == "open" or (checkpoint and _is_open_checkpoint(Path(checkpoint))):
        return _load_open(checkpoint, dev)
    try:
        ckpt = Path(checkpoint) if checkpoint else find_glot_checkpoint(assets_dir)
        if not checkpoint and _is_open_checkpoint(ckpt):  # $GLOT_CHECKPOINT may name the open model
            return _load_open(ckpt, dev)
        return _load_official(ckpt, assets_dir, dev, spin_checkpoint, config)
    except AssetNotFoundError as exc:
        if model == "official" or checkpoint:
            raise
        return _load_open(None, dev, note=f"official model files not found ({exc.name}); using the open model")


def _is_open_checkpoint(path: Path) -> bool:
    """The open model's file name, or a checkpoint config beside it that declares landmark input."""
    from ..model.landmark_features import LANDMARK_FEATURE_DIM
    from ..open_model.checkpoint import OPEN_CHECKPOINT, OPEN_CONFIG

    if path.name == OPEN_CHECKPOINT:
        return True
    cfg = path.with_name(OPEN_CONFIG)
    if cfg.is_file() and path.is_file():
        import json

        return json.loads(cfg.read_text()).get("feature_dim") == LANDMARK_FEATURE_DIM
    return False


def _load_open(checkpoint: str | os.PathLike | None, dev: torch.device, note: str = "") -> ModelBundle:
    from ..open_model.checkpoint import load_open_glot

    glot, info = load_open_glot(checkpoint, device=dev)
    return ModelBundle(glot=glot, backbone=None, info=info, device=dev, feature_source="landmarks", note=note,
                       backbone_path="MediaPipe Pose landmarks (glot.model.landmark_features)")


def _load_official(ckpt: Path, assets_dir: str | os.PathLike | None, dev: torch.device,
                   spin_checkpoint: str | os.PathLike | None, config: str | os.PathLike | None) -> ModelBundle:
    glot, info = load_glot(ckpt, config=config, assets_dir=assets_dir, device=dev, return_info=True)
    spin = Path(spin_checkpoint) if spin_checkpoint else find_asset("spin_model_checkpoint.pth.tar", assets_dir)
    backbone = load_spin_backbone(spin, device=dev)
    return ModelBundle(glot=glot, backbone=backbone, info=info, backbone_path=str(spin), device=dev)
