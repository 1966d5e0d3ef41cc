"""GLoT Studio: Global-to-Local modeling for video-based 3D human pose and shape (CVPR 2023).

Public API (see README.md):

* :class:`GLoTConfig` - architecture, with the official presets;
* :class:`GLoT` - the network; :func:`load_glot` - an official checkpoint, ready to run;
* :class:`SMPLBody` - the body model; :mod:`glot.assets` - where licensed files are found;
* :func:`load_bundle` / :func:`run_video` - the video pipeline (imported on first use);
* :mod:`glot.stream` - the online mode; :mod:`glot.train` - training and evaluation.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import OFFICIAL_PRESETS, GLoTConfig
from .body import MeanParams, SMPLBody
from .checkpoint import load_glot
from .model import BodyOutput, GLoT, GLoTOutput

__all__ = [
    "__version__", "GLoTConfig", "OFFICIAL_PRESETS", "GLoT", "GLoTOutput", "BodyOutput", "SMPLBody", "MeanParams",
    "load_glot", "load_bundle", "run_video", "RunOptions",
]


def __getattr__(name: str):
    # the pipeline pulls in video decoding, MediaPipe and rendering: import it only when asked for
    if name in ("load_bundle", "run_video", "RunOptions"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'glot' has no attribute {name!r}")
