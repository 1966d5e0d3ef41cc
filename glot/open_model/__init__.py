"""The open default model: GLoT on MediaPipe landmarks, trained on open motion (no licensed file).

* :mod:`.motion`: the pybullet humanoid clips (zlib) retargeted to SMPL's 24 joints, random
  trajectories within joint limits, mirroring and speed changes;
* :mod:`.synth`: a motion on the open body seen by a random camera, turned into MediaPipe-like
  landmarks with MediaPipe-like errors, plus GLoT targets;
* :mod:`.data`: training arrays and the held-out evaluation set;
* :mod:`.train`: ``python -m glot.open_model.train`` (one seeded command);
* :mod:`.checkpoint`: the shipped file (``checkpoints/open/``) and its loader;
* :mod:`.evaluate`: held-out 3D errors and 2D agreement with MediaPipe on real footage.

The per-frame feature itself lives in :mod:`glot.model.landmark_features` (shared with inference).
"""
from .checkpoint import OPEN_DIR, export_open_checkpoint, load_open_glot, open_checkpoint_path

__all__ = ["OPEN_DIR", "export_open_checkpoint", "load_open_glot", "open_checkpoint_path"]
