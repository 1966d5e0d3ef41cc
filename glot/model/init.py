"""How the official GLoT initialises a model trained from scratch, and SPIN's warm start.

Facts of the official code (sxl142/GLoT, ``lib/models/GLoT.py``, ``GMM.py``, ``HSCR.py``,
``spin.py``), in its order:

1. local part (``proj_short``, ``proj_mem``, ``local_trans_de``, ``local_trans_en``, ``regressor``
   = HSCR): KTD's joint heads are built with xavier-uniform gain 0.01, then
   ``GLoT.initialize_weights``: the local ``pos_embed`` ~ N(0, 0.02^2), then every Linear
   xavier-uniform (gain 1) with zero bias and every LayerNorm weight 1, bias 0, which overrides
   KTD's 0.01 gain;
2. global branch (``global_modeling`` = GMM, built after step 1): SPIN's regressor heads are built
   with gain 0.01, then ``GMM.initialize_weights``: ``pos_embed`` and ``decoder_pos_embed`` ~
   N(0, 0.02^2), then the same Linear / LayerNorm rule (overriding the 0.01 gains);
3. when SPIN's ``spin_model_checkpoint.pth.tar`` is present, the global regressor loads it with
   ``load_state_dict(strict=False)``: every SPIN tensor whose name the regressor shares, i.e.
   :data:`SPIN_REGRESSOR_KEYS` (``fc1``, ``fc2``, ``decpose``, ``decshape``, ``deccam`` and the
   mean-parameter buffers ``init_pose/shape/cam``).

The official code draws the embeddings with ``normal_`` (not a truncated normal; at 0.02 with
torch's default +-2 cut-off the two are the same distribution). The SMPL layers, and the mask
token's mean-parameter input (read from ``smpl_mean_params.npz``, not from SPIN), are untouched.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

__all__ = ["POS_EMBED_STD", "POS_EMBED_KEYS", "SPIN_REGRESSOR_KEYS", "official_init_", "read_spin_state",
           "warm_start_from_spin_"]

POS_EMBED_STD = 0.02
# positional embeddings per part, in the official order (local first, then global)
POS_EMBED_KEYS = {"local": ("local_trans_en.pos_embed",),
                  "global": ("global_modeling.trans.pos_embed", "global_modeling.trans.decoder_pos_embed")}
GLOBAL_PREFIX = "global_modeling."
SPIN_REGRESSOR_PREFIX = "global_modeling.regressor."
# SPIN (HMR) state-dict names the official global regressor shares (all copied by strict=False)
SPIN_REGRESSOR_KEYS = (
    "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "decpose.weight", "decpose.bias",
    "decshape.weight", "decshape.bias", "deccam.weight", "deccam.bias", "init_pose", "init_shape", "init_cam",
)


def _reset(module: nn.Module) -> None:
    """The official ``_init_weights``: Linear xavier-uniform (gain 1), bias 0; LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


@torch.no_grad()
def official_init_(model: nn.Module) -> nn.Module:
    """Initialise a GLoT in place as the official constructor does (steps 1 and 2 of the module
    doc; random draws from torch's global generator, as the official code). Returns ``model``."""
    params = dict(model.named_parameters())
    for part in ("local", "global"):
        for key in POS_EMBED_KEYS[part]:
            if key not in params:
                raise KeyError(f"{type(model).__name__} has no parameter '{key}' (not a GLoT model?)")
            nn.init.normal_(params[key], std=POS_EMBED_STD)
        for name, module in model.named_modules():  # leaf order = the official ``apply`` order
            if name and name.startswith(GLOBAL_PREFIX) == (part == "global"):
                _reset(module)
    return model


def read_spin_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """SPIN's ``model`` state dict from ``spin_model_checkpoint.pth.tar`` (CPU, ``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SPIN checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a SPIN checkpoint (expected a dict with a 'model' state dict)")
    return state


@torch.no_grad()
def warm_start_from_spin_(model: nn.Module, spin_state: Mapping[str, torch.Tensor], source: str = "SPIN checkpoint"
                          ) -> list[str]:
    """Copy SPIN's regressor tensors into the global regressor (step 3 of the module doc).

    Args:
        model: a GLoT (its ``global_modeling.regressor.*`` entries receive the copies).
        spin_state: SPIN's ``model`` state dict (a ``module.`` prefix is removed).
        source: named in error messages.
    Returns:
        The model's state-dict keys that were overwritten (``global_modeling.regressor.<key>`` for
        each of :data:`SPIN_REGRESSOR_KEYS`).
    Raises:
        ValueError: a SPIN regressor tensor is missing or has another shape (e.g. features that are
            not SPIN's 2048-d ones).
    """
    spin = {k[len("module."):] if k.startswith("module.") else k: v for k, v in spin_state.items()}
    missing = [k for k in SPIN_REGRESSOR_KEYS if k not in spin]
    if missing:
        raise ValueError(f"{source} lacks SPIN regressor tensors: {', '.join(missing)}")
    own = model.state_dict(keep_vars=True)
    copied = []
    for k in SPIN_REGRESSOR_KEYS:
        dst = own[SPIN_REGRESSOR_PREFIX + k]
        src = spin[k]
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(f"{source}: '{k}' is {tuple(src.shape)}, the global regressor's is {tuple(dst.shape)} "
                             f"(SPIN's regressor fits 2048-d features only)")
        dst.copy_(src.to(dtype=dst.dtype, device=dst.device))
        copied.append(SPIN_REGRESSOR_PREFIX + k)
    return copied
