"""GLoT model layer: configs, the network, outputs and masking helpers."""
from ..config import OFFICIAL_PRESETS, GLoTConfig
from .glot import GLoT
from .masking import block_mask, frames_mask, mask_from_noise, random_mask
from .outputs import BodyOutput, GLoTOutput, smpl_head

__all__ = [
    "GLoT", "GLoTConfig", "OFFICIAL_PRESETS", "BodyOutput", "GLoTOutput", "smpl_head",
    "mask_from_noise", "random_mask", "block_mask", "frames_mask",
]
