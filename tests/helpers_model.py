"""Builders shared by the model tests (not a test module)."""
from __future__ import annotations

import numpy as np
import torch

from glot.body import MeanParams, SMPLBody
from glot.config import GLoTConfig
from glot.model import GLoT

SMPL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


def body_from_section(sm) -> SMPLBody:
    arrays = {k: (sm[k].numpy() if torch.is_tensor(sm[k]) else np.asarray(sm[k])) for k in SMPL_KEYS}
    jre = sm["J_regressor_extra"]
    return SMPLBody(arrays, jre.numpy() if torch.is_tensor(jre) else jre,
                    vertex_ids={k: int(v) for k, v in sm["vertex_ids"].items()})


def mean_from_section(sm) -> MeanParams:
    mp = sm["mean_params"]
    return MeanParams(*(torch.as_tensor(np.asarray(mp[k])).float() for k in ("pose", "shape", "cam")))


def reference_model(ref) -> GLoT:
    """The fixture's model (eval config) with the reference weights, in eval mode."""
    sm = ref["smpl"]
    cfg = GLoTConfig.from_dict(ref["config"])
    model = GLoT(cfg, body_from_section(sm), mean_from_section(sm))
    model.load_state_dict(ref["state_dict"], strict=True)
    return model.eval()
