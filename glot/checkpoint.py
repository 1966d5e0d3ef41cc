"""Official GLoT checkpoints: reading, size detection, strict validation, loading, export.

An official checkpoint is a torch file holding ``{'gen_state_dict': GLoT.state_dict(), ...}``.
The state dict alone fixes every size except the head counts (``num_head``, ``short_num_head``),
which come from an optional config file (JSON or YAML, official constructor names) and default
to the official 8.
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .assets import find_asset, find_smpl_model
from .body.files import MeanParams, read_array_file, read_mean_params
from .body.smpl import SMPLBody
from .config import GLoTConfig, load_config_file
from .device import resolve_device
from .errors import GLoTError
from .model.glot import GLoT
from .torch_load import load_weights_only

__all__ = [
    "CheckpointError",
    "read_state_dict",
    "detect_config",
    "validate_state_dict",
    "official_state_dict",
    "save_official_checkpoint",
    "load_glot",
    "load_h36m_regressor",
    "LoadedInfo",
]

SMPL_PREFIXES = ("regressor.smpl.", "global_modeling.regressor.smpl.")
# smplx buffer order in the official checkpoints (export writes this order)
_SMPL_ORDER = ("betas", "global_orient", "body_pose", "faces_tensor", "v_template", "shapedirs", "J_regressor",
               "posedirs", "parents", "lbs_weights", "J_regressor_extra", "vertex_joint_selector.extra_joints_idxs")


class CheckpointError(GLoTError, ValueError):
    """The file is not a usable GLoT checkpoint; the message says why (key, expected, found)."""


def _safe_globals() -> list[Any]:
    """Non-tensor types found in official training checkpoints (numpy scalars in 'performance')."""
    out: list[Any] = []
    try:
        from numpy.core.multiarray import scalar  # type: ignore[attr-defined]

        out.append(scalar)
    except Exception:  # pragma: no cover
        pass
    out.append(np.dtype)
    for name in ("Float64DType", "Float32DType", "Int64DType"):
        t = getattr(np.dtypes, name, None) if hasattr(np, "dtypes") else None
        if t is not None:
            out.append(t)
    return out


def read_state_dict(path: str | os.PathLike) -> "OrderedDict[str, torch.Tensor]":
    """Read the GLoT state dict from an official (``gen_state_dict``) or plain checkpoint file.

    Loads on the CPU with ``weights_only=True`` (only tensors, plain containers and numpy scalars);
    a file that names any other global is refused (:class:`glot.errors.UnsafeFileError`), never
    loaded another way.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    obj = load_weights_only(path, "GLoT checkpoint", _safe_globals(), error=CheckpointError)
    if isinstance(obj, Mapping):
        for key in ("gen_state_dict", "state_dict", "model"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(f"{path}: no GLoT state dict inside (expected a dict with 'gen_state_dict')")
    sd = OrderedDict((k[7:] if k.startswith("module.") else k, v) for k, v in obj.items())
    if "proj_short.weight" not in sd:
        raise CheckpointError(f"{path}: not a GLoT checkpoint (missing key 'proj_short.weight')")
    return sd


def _count_blocks(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    idx = {int(m.group(1)) for k in sd for m in [pat.match(k)] if m}
    return max(idx) + 1 if idx else 0


def _shape(sd: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in sd:
        raise CheckpointError(f"missing key '{key}' in the checkpoint")
    return tuple(sd[key].shape)


def detect_config(sd: Mapping[str, torch.Tensor], overrides: Mapping[str, Any] | None = None) -> GLoTConfig:
    """Sizes from tensor shapes; head counts and regularisation from ``overrides`` (defaults:
    official). A size given in ``overrides`` that contradicts the tensors is an error."""
    pe = _shape(sd, "global_modeling.trans.pos_embed")
    lpe = _shape(sd, "local_trans_en.pos_embed")
    ps = _shape(sd, "proj_short.weight")
    detected = {
        "seqlen": pe[1],
        "d_model": pe[2],
        "n_layers": _count_blocks(sd, "global_modeling.trans.blocks."),
        "short_n_layers": _count_blocks(sd, "local_trans_en.blocks."),
        "stride_short": (lpe[1] - 1) // 2,
        "short_d_model": ps[0],
        "feature_dim": ps[1],
    }
    n_dec = _count_blocks(sd, "global_modeling.trans.decoder_blocks.")
    if n_dec != detected["n_layers"] // 2:
        raise CheckpointError(
            f"decoder has {n_dec} blocks but the encoder has {detected['n_layers']} (expected n_layers // 2)")
    kw = dict(overrides or {})
    for k, v in detected.items():
        if k in kw and int(kw[k]) != int(v):
            raise CheckpointError(f"config says {k}={kw[k]} but the checkpoint's tensors have {k}={v}")
        kw[k] = v
    try:
        return GLoTConfig.from_dict(kw)
    except ValueError as exc:
        raise CheckpointError(f"inconsistent checkpoint sizes: {exc}") from None


def validate_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` naming every missing/unexpected key and shape mismatch."""
    own = model.state_dict()
    problems = []
    for k, v in own.items():
        if k not in sd:
            problems.append(f"missing key '{k}' (expected shape {tuple(v.shape)})")
        elif tuple(sd[k].shape) != tuple(v.shape):
            problems.append(f"key '{k}': expected shape {tuple(v.shape)}, found {tuple(sd[k].shape)}")
    for k in sd:
        if k not in own:
            problems.append(f"unexpected key '{k}' (shape {tuple(sd[k].shape)})")
    if problems:
        head = "; ".join(problems[:8]) + (f"; ... {len(problems) - 8} more" if len(problems) > 8 else "")
        raise CheckpointError(f"checkpoint does not fit the GLoT model: {head}")


def official_state_dict(model: GLoT) -> "OrderedDict[str, torch.Tensor]":
    """``model.state_dict()`` in the official key order (SMPL buffers in smplx's official order)."""
    sd = model.state_dict()
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for k in sd:
        if k in out:
            continue
        prefix = next((p for p in SMPL_PREFIXES if k.startswith(p)), None)
        if prefix is None:
            out[k] = sd[k]
            continue
        names = [prefix + n for n in _SMPL_ORDER if prefix + n in sd] + [kk for kk in sd if kk.startswith(prefix)]
        for kk in names:
            out.setdefault(kk, sd[kk])
    return out


def save_official_checkpoint(model: GLoT, path: str | os.PathLike, **extra: Any) -> Path:
    """Write ``{'gen_state_dict': ..., **extra}`` (the official layout) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = OrderedDict((k, v.detach().cpu()) for k, v in official_state_dict(model).items())
    torch.save({"gen_state_dict": sd, **extra}, path)
    return path


def load_h36m_regressor(assets_dir: str | os.PathLike | None = None) -> torch.Tensor:
    """``J_regressor_h36m.npy`` as a float32 ``(17, V)`` tensor."""
    return torch.from_numpy(read_array_file(find_asset("J_regressor_h36m.npy", assets_dir)).astype(np.float32))


@dataclass(frozen=True)
class LoadedInfo:
    """Where a loaded model's parts came from (for the app's model panel and summaries)."""

    checkpoint: str
    body_source: str  # "checkpoint" or the SMPL file path
    mean_source: str  # smpl_mean_params.npz path or "checkpoint"
    config: GLoTConfig


def _body_from_files(assets_dir: str | os.PathLike | None, gender: str) -> SMPLBody:
    """SMPL body from the SMPL file and ``J_regressor_extra.npy``; a ``vertex_ids.npz`` beside
    the SMPL file (non-SMPL meshes such as the open body) gives the extra-vertex joint ids."""
    smpl_path = find_smpl_model(gender, assets_dir)
    extra = find_asset("J_regressor_extra.npy", assets_dir)
    ids = None
    ids_path = smpl_path.parent / "vertex_ids.npz"
    if ids_path.is_file():
        with np.load(ids_path) as d:
            ids = {k: int(d[k]) for k in d.files}
    return SMPLBody.from_files(smpl_path, extra, vertex_ids=ids)


def load_glot(
    checkpoint: str | os.PathLike,
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    assets_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    gender: str | None = None,
    return_info: bool = False,
) -> GLoT | tuple[GLoT, LoadedInfo]:
    """Load an official GLoT checkpoint, strictly, ready for inference (``eval()`` mode).

    Args:
        checkpoint: the ``.pth.tar`` file.
        config: optional JSON/YAML file or mapping with constructor values (``num_head``, ...).
        assets_dir: folder with SMPL files (used only when the checkpoint lacks the SMPL buffers,
            or to switch ``gender``) and ``smpl_mean_params.npz``.
        device: ``"cpu"``, ``"cuda"``, ``"mps"`` or None/``"auto"``.
        gender: ``"male"``/``"female"`` replaces the checkpoint's (neutral) body by that SMPL file.
    """
    path = Path(checkpoint)
    sd = read_state_dict(path)
    overrides = load_config_file(config) if isinstance(config, (str, os.PathLike)) else dict(config or {})
    cfg = detect_config(sd, overrides)

    has_body = all(p + "v_template" in sd for p in SMPL_PREFIXES)
    if gender not in (None, "neutral"):
        body = _body_from_files(assets_dir, gender)
        bodies = (body, body)
        body_source = str(find_smpl_model(gender, assets_dir))
    elif has_body:
        b1 = SMPLBody.from_state_dict(sd, SMPL_PREFIXES[0])
        same = all(torch.equal(sd[SMPL_PREFIXES[0] + k], sd[SMPL_PREFIXES[1] + k])
                   for k in b1.state_dict() if SMPL_PREFIXES[1] + k in sd)
        bodies = (b1, b1 if same else SMPLBody.from_state_dict(sd, SMPL_PREFIXES[1]))
        body_source = "checkpoint"
    else:
        body = _body_from_files(assets_dir, "neutral")
        bodies = (body, body)
        body_source = str(find_smpl_model("neutral", assets_dir))

    mean_path = find_asset("smpl_mean_params.npz", assets_dir, required=False)
    if mean_path is not None:
        mean = read_mean_params(mean_path)
        mean_source = str(mean_path)
    else:  # the official regressor buffers hold the same values
        keys = ("global_modeling.regressor.init_pose", "global_modeling.regressor.init_shape",
                "global_modeling.regressor.init_cam")
        if not all(k in sd for k in keys):
            find_asset("smpl_mean_params.npz", assets_dir)  # raises with the full message
        mean = MeanParams(*(sd[k].float().reshape(-1) for k in keys))
        mean_source = "checkpoint"

    model = GLoT(cfg, bodies[0], mean)
    if bodies[1] is not bodies[0]:
        model.global_modeling.regressor.smpl = bodies[1]
    full = OrderedDict(sd)
    if not has_body or gender not in (None, "neutral"):  # SMPL state from files, everything else strict
        for prefix, body in zip(SMPL_PREFIXES, bodies):
            for k, v in body.state_dict().items():
                full[prefix + k] = v
    validate_state_dict(model, full)
    model.load_state_dict(full, strict=True)
    model.eval().to(resolve_device(device))
    if return_info:
        return model, LoadedInfo(str(path), body_source, mean_source, cfg)
    return model
