"""The open model's checkpoint: official ``gen_state_dict`` layout (weights in fp16, body buffers in
fp32 except the all-zero pose blend shapes), a JSON model config beside it, and its loader."""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from ..body.files import MeanParams
from ..body.smpl import SMPLBody
from ..checkpoint import SMPL_PREFIXES, LoadedInfo, detect_config, official_state_dict, read_state_dict, \
    validate_state_dict
from ..device import resolve_device
from ..model.glot import GLoT

__all__ = ["OPEN_DIR", "OPEN_CHECKPOINT", "OPEN_CONFIG", "open_checkpoint_path", "export_open_checkpoint",
           "load_open_glot"]

OPEN_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "open"
OPEN_CHECKPOINT = "open_glot.pth.tar"
OPEN_CONFIG = "open_glot.json"
OPEN_CHECKPOINT_ENV = "GLOT_OPEN_CHECKPOINT"


def open_checkpoint_path(folder: str | os.PathLike | None = None) -> Path:
    """``$GLOT_OPEN_CHECKPOINT``, else ``<folder or checkpoints/open>/open_glot.pth.tar``."""
    env = os.environ.get(OPEN_CHECKPOINT_ENV)
    if env and folder is None:
        return Path(env)
    return Path(folder or OPEN_DIR) / OPEN_CHECKPOINT


def _storage(model_sd: "OrderedDict[str, torch.Tensor]") -> "OrderedDict[str, torch.Tensor]":
    """fp16 network weights, fp32 body buffers (posedirs fp16: zeros), integer tensors unchanged;
    tensors that share memory (the two branches' body) stay shared so the file holds one copy."""
    seen: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for k, v in model_sd.items():
        key = (v.data_ptr(), tuple(v.shape))
        if key not in seen:
            body = k.startswith(SMPL_PREFIXES)
            if v.is_floating_point() and (not body or k.endswith("posedirs")):
                seen[key] = v.detach().cpu().half()
            else:
                seen[key] = v.detach().cpu().clone()
        out[k] = seen[key]
    return out


def export_open_checkpoint(model: GLoT, folder: str | os.PathLike, **extra: Any) -> Path:
    """Write ``open_glot.pth.tar`` (``{'gen_state_dict': ..., **extra}``) and ``open_glot.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / OPEN_CHECKPOINT
    torch.save({"gen_state_dict": _storage(official_state_dict(model)), **extra}, path)
    (folder / OPEN_CONFIG).write_text(json.dumps(model.cfg.to_dict(), indent=2) + "\n")
    return path


def load_open_glot(path: str | os.PathLike | None = None, device: str | torch.device | None = None
                   ) -> tuple[GLoT, LoadedInfo]:
    """Load the open model from its checkpoint alone (body and mean parameters come from the file;
    no asset folder is consulted). ``path``: the ``.pth.tar`` (default :func:`open_checkpoint_path`)."""
    path = Path(path) if path is not None else open_checkpoint_path()
    if not path.is_file():
        raise FileNotFoundError(f"missing open model '{path}': it is part of the repository (checkpoints/open/); "
                                "retrain it with `python -m glot.open_model.train` (see docs/open_model.md)")
    sd = read_state_dict(path)
    cfg_path = path.with_name(OPEN_CONFIG)
    overrides = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    cfg = detect_config(sd, overrides)
    body = SMPLBody.from_state_dict(sd, SMPL_PREFIXES[0])
    keys = ("global_modeling.regressor.init_pose", "global_modeling.regressor.init_shape",
            "global_modeling.regressor.init_cam")
    mean = MeanParams(*(sd[k].float().reshape(-1) for k in keys))
    model = GLoT(cfg, body, mean)
    full = OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in sd.items())
    validate_state_dict(model, full)
    model.load_state_dict(full, strict=True)
    model.eval().to(resolve_device(device))
    return model, LoadedInfo(str(path), "checkpoint (open body)", "checkpoint", cfg)


REFERENCE_IO = "reference_io.npz"


def write_reference_io(model: GLoT, features, folder: str | os.PathLike) -> Path:
    """Record the model's outputs on ``features (N, F)`` (windows centred on every frame) in
    ``<folder>/reference_io.npz``, so a test can check that the shipped file still gives them."""
    import numpy as np

    from .evaluate import predict_sequence

    out = predict_sequence(model, np.asarray(features, np.float32))
    path = Path(folder) / REFERENCE_IO
    np.savez_compressed(path, features=np.asarray(features, np.float32), **out)
    return path
