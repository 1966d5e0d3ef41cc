"""GLoT Studio: Global-to-Local modeling for video-based 3D human pose and shape (CVPR 2023).

Public API (see README.md):

* :class:`GLoTConfig` - architecture, with the official presets;
* :class:`GLoT` - the network; :func:`load_glot` - an official checkpoint, ready to run;
* :class:`SMPLBody` - the body model; :mod:`glot.assets` - where licensed files are found.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import OFFICIAL_PRESETS, GLoTConfig
from .body import MeanParams, SMPLBody
from .model import BodyOutput, GLoT, GLoTOutput

__all__ = [
    "__version__", "GLoTConfig", "OFFICIAL_PRESETS", "GLoT", "GLoTOutput", "BodyOutput", "SMPLBody", "MeanParams",
]
