"""Reading body-model files: SMPL ``.pkl``/``.npz``, regressors and ``smpl_mean_params.npz``."""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["MeanParams", "read_smpl_file", "read_mean_params", "write_smpl_assets", "SMPL_FILE_KEYS"]

SMPL_FILE_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


@dataclass(frozen=True)
class MeanParams:
    """SMPL mean parameters (SPIN's ``smpl_mean_params.npz``).

    pose: ``(144,)`` 24 rotations in 6D; shape: ``(10,)``; cam: ``(3,)`` ``(s, tx, ty)``.
    """

    pose: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor

    def concat(self) -> torch.Tensor:
        """``(157,)`` float32 ``[pose, shape, cam]`` (the mask-token MLP's input)."""
        return torch.cat([self.pose.float(), self.shape.float(), self.cam.float()])

    @classmethod
    def identity(cls) -> "MeanParams":
        """Identity pose, zero shape, ``cam = (0.9, 0, 0)``: for models that have no mean file."""
        pose = torch.tensor([1.0, 0, 0, 1.0, 0, 0]).repeat(24)
        return cls(pose=pose, shape=torch.zeros(10), cam=torch.tensor([0.9, 0.0, 0.0]))


def read_mean_params(path: str | os.PathLike) -> MeanParams:
    """Read ``smpl_mean_params.npz`` (keys ``pose``, ``shape``, ``cam``) as float32 tensors."""
    with np.load(path) as data:
        missing = {"pose", "shape", "cam"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)} (expected pose, shape, cam)")
        pose = torch.from_numpy(np.asarray(data["pose"], dtype=np.float32)).reshape(-1)
        shape = torch.from_numpy(np.asarray(data["shape"]).astype(np.float32)).reshape(-1)
        cam = torch.from_numpy(np.asarray(data["cam"], dtype=np.float32)).reshape(-1)
    if pose.numel() != 144 or shape.numel() != 10 or cam.numel() != 3:
        raise ValueError(f"{path}: expected pose (144,), shape (10,), cam (3,); got {tuple(pose.shape)}, "
                         f"{tuple(shape.shape)}, {tuple(cam.shape)}")
    return MeanParams(pose=pose, shape=shape, cam=cam)


class _Stub:
    """Stands in for chumpy objects inside the official SMPL pickles (chumpy itself no longer
    imports on current numpy). Only the stored value is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._state: Any = None

    def __setstate__(self, state: Any) -> None:
        self._state = state

    def value(self) -> np.ndarray:
        st = self._state
        if isinstance(st, dict):
            for key in ("x", "_x", "a"):
                if key in st:
                    v = st[key]
                    return v.value() if isinstance(v, _Stub) else np.asarray(v)
        raise ValueError("unsupported chumpy object in SMPL file; convert it to .npz")


class _SMPLUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("chumpy"):
            return _Stub
        if module.split(".")[0] in ("numpy", "scipy", "collections", "builtins", "copy_reg", "copyreg", "_codecs"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"SMPL file refers to {module}.{name}, which is not allowed")


def _plain(v: Any) -> Any:
    if isinstance(v, _Stub):
        return v.value()
    if hasattr(v, "toarray") and "scipy.sparse" in type(v).__module__:
        return np.asarray(v.toarray())
    return v


def read_smpl_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an SMPL model file (``.pkl`` as released, or ``.npz`` with the same arrays).

    Returns numpy arrays ``v_template (V,3)``, ``shapedirs (V,3,S)``, ``posedirs (V,3,207)``,
    ``J_regressor (24,V)`` (dense), ``weights (V,24)``, ``kintree_table (2,24)``, ``f (F,3)``.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as d:
            raw = {k: d[k] for k in d.files}
    else:
        with open(path, "rb") as fh:
            raw = _SMPLUnpickler(fh, encoding="latin1").load()
    out: dict[str, np.ndarray] = {}
    missing = [k for k in SMPL_FILE_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{path}: not an SMPL model file (missing {', '.join(missing)})")
    for k in SMPL_FILE_KEYS:
        out[k] = np.asarray(_plain(raw[k]))
    return out


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def write_smpl_assets(smpl: Mapping[str, Any], folder: str | os.PathLike, fmt: str = "pkl") -> Path:
    """Write the official ``base_data`` files from an ``smpl`` section (fixture layout).

    Writes ``SMPL_NEUTRAL.pkl`` (or ``.npz``), ``J_regressor_extra.npy``, ``J_regressor_h36m.npy``
    and ``smpl_mean_params.npz`` (keys ``pose, shape, cam``) into ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = {k: _np(smpl[k]) for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    model["kintree_table"] = model["kintree_table"].astype(np.int64)
    if fmt == "pkl":
        with open(folder / "SMPL_NEUTRAL.pkl", "wb") as fh:
            pickle.dump(model, fh)
    else:
        np.savez_compressed(folder / "SMPL_NEUTRAL.npz", **model)
    np.save(folder / "J_regressor_extra.npy", _np(smpl["J_regressor_extra"]))
    np.save(folder / "J_regressor_h36m.npy", _np(smpl["J_regressor_h36m"]))
    mp = smpl["mean_params"]
    np.savez(folder / "smpl_mean_params.npz", pose=_np(mp["pose"]), shape=_np(mp["shape"]), cam=_np(mp["cam"]))
    if "vertex_ids" in smpl:
        # not an official file: the extra-vertex joint ids of a non-SMPL mesh
        ids = {k: int(v) for k, v in smpl["vertex_ids"].items()}
        np.savez(folder / "vertex_ids.npz", **{k: np.int64(v) for k, v in ids.items()})
    return folder


