"""GLoT Studio: Global-to-Local modeling for video-based 3D human pose and shape (CVPR 2023).

Public API (see README.md):

* :class:`GLoTConfig` - architecture, with the official presets;
* :class:`GLoT` - the network; :func:`load_glot` - an official checkpoint, ready to run;
* :class:`SMPLBody` - the body model; :mod:`glot.assets` - where licensed files are found;
* :func:`load_bundle` / :func:`run_video` - the video pipeline;
* :mod:`glot.stream` - the online mode; :mod:`glot.train` - training and evaluation.

Names are imported on first use, so ``import glot`` costs nothing until a model is needed.
"""
from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.2.0"

_EXPORTS = {
    "GLoTConfig": ".config", "OFFICIAL_PRESETS": ".config", "SMPLBody": ".body", "MeanParams": ".body",
    "load_glot": ".checkpoint", "GLoT": ".model", "GLoTOutput": ".model", "BodyOutput": ".model",
    "load_bundle": ".pipeline", "run_video": ".pipeline", "RunOptions": ".pipeline",
}
__all__ = ["__version__", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)
