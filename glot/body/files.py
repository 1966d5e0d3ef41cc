"""Reading body-model files: SMPL ``.pkl``/``.npz``, regressors and ``smpl_mean_params.npz``."""
from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..errors import GLoTError, UnsafeFileError
from .safe_pickle import ChumpyStub, SparseStub, load_body_pickle

__all__ = ["MeanParams", "BodyFileError", "read_smpl_file", "read_array_file", "read_mean_params",
           "write_smpl_assets", "SMPL_FILE_KEYS"]

SMPL_FILE_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class BodyFileError(GLoTError, ValueError):
    """A body-model file (SMPL ``.pkl``/``.npz``, regressor, mean parameters) is unusable; the
    message names the file and what is wrong."""


# errors numpy/pickle raise on damaged files (anything else is a bug and keeps its traceback)
_READ_ERRORS = (ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, KeyError, IndexError,
                TypeError, AttributeError, OverflowError, MemoryError)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


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
    """Read ``smpl_mean_params.npz`` (keys ``pose``, ``shape``, ``cam``) as float32 tensors.

    Raises:
        BodyFileError: damaged file, missing arrays or wrong sizes.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"pose", "shape", "cam"} - set(data.files)
            if missing:
                raise BodyFileError(f"{path}: missing arrays {sorted(missing)} (expected pose, shape, cam)")
            pose = torch.from_numpy(np.asarray(data["pose"], dtype=np.float32)).reshape(-1)
            shape = torch.from_numpy(np.asarray(data["shape"]).astype(np.float32)).reshape(-1)
            cam = torch.from_numpy(np.asarray(data["cam"], dtype=np.float32)).reshape(-1)
    except BodyFileError:
        raise
    except _READ_ERRORS as exc:
        raise BodyFileError(f"{path}: not a readable smpl_mean_params.npz ({_short(exc)})") from None
    if pose.numel() != 144 or shape.numel() != 10 or cam.numel() != 3:
        raise BodyFileError(f"{path}: expected pose (144,), shape (10,), cam (3,); got {tuple(pose.shape)}, "
                         f"{tuple(shape.shape)}, {tuple(cam.shape)}")
    return MeanParams(pose=pose, shape=shape, cam=cam)


def _plain(v: Any) -> np.ndarray:
    if isinstance(v, ChumpyStub):
        return np.asarray(v.value())
    if isinstance(v, SparseStub):
        return v.toarray()
    arr = np.asarray(v)
    if arr.dtype == object:
        raise ValueError("not a numeric array")
    return arr


def _check_shapes(out: Mapping[str, np.ndarray]) -> str | None:
    V = out["v_template"].shape[0] if out["v_template"].ndim == 2 else -1
    J = out["kintree_table"].shape[-1] if out["kintree_table"].ndim == 2 else -1
    want = {"v_template": (V, 3), "shapedirs": (V, 3, None), "posedirs": (V, 3, None), "J_regressor": (J, V),
            "weights": (V, J), "kintree_table": (2, J), "f": (None, 3)}
    for k, shape in want.items():
        got = out[k].shape
        if V < 1 or J < 1 or len(got) != len(shape) or any(w is not None and w != g for w, g in zip(shape, got)):
            return f"{k} has shape {got}, expected {tuple('*' if w is None else w for w in shape)}"
    f = out["f"]
    if not np.issubdtype(f.dtype, np.integer) or (f.size and (f.min() < 0 or f.max() >= V)):
        return "faces f do not index the template's vertices"
    return None


def read_smpl_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an SMPL model file (``.pkl`` as released, or ``.npz`` with the same arrays).

    ``.pkl`` files are read with :class:`glot.body.safe_pickle.SafeBodyUnpickler`: only numpy,
    scipy-sparse and chumpy data, never code (a file naming anything else raises
    :class:`glot.errors.UnsafeFileError`).

    Returns numpy arrays ``v_template (V,3)``, ``shapedirs (V,3,S)``, ``posedirs (V,3,207)``,
    ``J_regressor (24,V)`` (dense), ``weights (V,24)``, ``kintree_table (2,24)``, ``f (F,3)``.

    Raises:
        UnsafeFileError: the pickle refers to a global outside the allow-list.
        BodyFileError: not a readable SMPL file (missing arrays, wrong shapes, damaged).
    """
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as d:
                raw: Any = {k: d[k] for k in d.files}
        else:
            raw = load_body_pickle(path)
    except _READ_ERRORS as exc:
        if isinstance(exc, UnsafeFileError):
            raise
        raise BodyFileError(f"{path}: not a readable SMPL model file ({_short(exc)})") from None
    if not isinstance(raw, Mapping):
        raise BodyFileError(f"{path}: not an SMPL model file (expected a dict of arrays, found {type(raw).__name__})")
    missing = [k for k in SMPL_FILE_KEYS if k not in raw]
    if missing:
        raise BodyFileError(f"{path}: not an SMPL model file (missing {', '.join(missing)})")
    out: dict[str, np.ndarray] = {}
    for k in SMPL_FILE_KEYS:
        try:
            out[k] = _plain(raw[k])
        except _READ_ERRORS as exc:
            raise BodyFileError(f"{path}: {k} is unusable: {_short(exc)}") from None
    problem = _check_shapes(out)
    if problem:
        raise BodyFileError(f"{path}: not a usable SMPL model file ({problem})")
    return out


def read_array_file(path: str | os.PathLike) -> np.ndarray:
    """A numeric ``.npy`` array (regressors), read without pickles; damaged files raise
    :class:`BodyFileError`."""
    try:
        arr = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise BodyFileError(f"{path}: not a readable .npy array ({_short(exc)})") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise BodyFileError(f"{path}: expected one numeric .npy array")
    return arr


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def write_smpl_assets(smpl: Mapping[str, Any], folder: str | os.PathLike, fmt: str = "pkl") -> Path:
    """Write the official ``base_data`` files from an ``smpl`` section (fixture layout).

    Writes ``SMPL_NEUTRAL.pkl`` (or ``.npz``), ``J_regressor_extra.npy``, ``J_regressor_h36m.npy``
    and ``smpl_mean_params.npz`` (keys ``pose, shape, cam``) into ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = {k: _np(smpl[k]) for k in SMPL_FILE_KEYS}
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


