"""The models a video run needs: GLoT (with its body) and the ResNet-50 feature extractor."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..assets import AssetNotFoundError, find_asset, search_dirs
from ..checkpoint import LoadedInfo, load_glot
from ..device import resolve_device
from ..model import GLoT
from ..model.backbone import load_spin_backbone

__all__ = ["ModelBundle", "load_bundle", "OFFICIAL_GLOT_NAMES", "find_glot_checkpoint"]

CHECKPOINT_ENV = "GLOT_CHECKPOINT"
# names of the released GLoT weights (any of them is used, in this order)
OFFICIAL_GLOT_NAMES = (
    "table1_3dpw_weights.pth.tar",
    "table2_3dpw_weights.pth.tar",
    "table1_h36m_mpii3d_weights.pth.tar",
    "glot.pth.tar",
)


@dataclass
class ModelBundle:
    """GLoT + backbone on one device, and where they came from."""

    glot: GLoT
    backbone: nn.Module
    info: LoadedInfo
    backbone_path: str
    device: torch.device

    @property
    def faces(self) -> torch.Tensor:
        """``(F, 3)`` int64 mesh faces of the body."""
        return self.glot.body.faces_tensor

    def frame_features(self, image: np.ndarray, box: np.ndarray, observation=None, bf16: bool | None = None
                       ) -> torch.Tensor:
        """The static feature of one frame ``(F,)`` (for streams): crop ``box`` and run the backbone.

        ``observation`` (the tracker's :class:`~glot.video.track.PoseObservation`) is unused by
        image features.
        """
        from ..model.backbone import extract_features
        from ..video import crop_frames

        crops = crop_frames([image], np.asarray(box, np.float64)[None])
        return extract_features(self.backbone, crops.images, batch_size=1, bf16=bf16)[0].cpu()

    def describe(self) -> dict[str, str]:
        cfg = self.info.config
        return {
            "model": "GLoT (official format)",
            "checkpoint": self.info.checkpoint,
            "body": self.info.body_source,
            "mean_params": self.info.mean_source,
            "feature_extractor": self.backbone_path,
            "window": str(cfg.seqlen),
            "local_width": str(cfg.stride_short),
            "device": str(self.device),
        }


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
) -> ModelBundle:
    """Load GLoT and SPIN's ResNet-50, locating missing paths with :mod:`glot.assets`."""
    dev = resolve_device(device)
    ckpt = Path(checkpoint) if checkpoint else find_glot_checkpoint(assets_dir)
    glot, info = load_glot(ckpt, config=config, assets_dir=assets_dir, device=dev, return_info=True)
    spin = Path(spin_checkpoint) if spin_checkpoint else find_asset("spin_model_checkpoint.pth.tar", assets_dir)
    backbone = load_spin_backbone(spin, device=dev)
    return ModelBundle(glot=glot, backbone=backbone, info=info, backbone_path=str(spin), device=dev)
