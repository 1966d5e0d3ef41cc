"""Helpers for tests and benchmarks: synthetic SMPL-format files and official-format checkpoints.

Nothing here is used at run time by the app or the pipeline. The synthetic body is the one the
reference fixtures were produced with (``tests/fixtures``) or a random human-sized mesh of any
vertex count; it is *not* the licensed SMPL model.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..body.files import write_smpl_assets

__all__ = ["FIXTURES_ENV", "fixtures_dir", "load_reference", "write_smpl_assets", "synthetic_smpl_arrays",
           "rebuild_smpl_buffers", "UNUSED_REFERENCE_KEYS"]

FIXTURES_ENV = "GLOT_FIXTURES"
_SMPL_LAYERS = ("regressor.smpl.", "global_modeling.regressor.smpl.")
# learnable tensors of the official model that its forward never reads (stored as zeros in the repo copy)
UNUSED_REFERENCE_KEYS = ("global_modeling.regressor.fc2.weight", "global_modeling.regressor.fc2.bias",
                         "regressor.local_reg.decshape.weight", "regressor.local_reg.decshape.bias",
                         "regressor.local_reg.deccam.weight", "regressor.local_reg.deccam.bias")


def fixtures_dir() -> Path:
    """``$GLOT_FIXTURES`` or the repository's ``tests/fixtures``."""
    env = os.environ.get(FIXTURES_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures"


def rebuild_smpl_buffers(smpl: dict[str, Any], keys: list[str]) -> dict[str, torch.Tensor]:
    """The state-dict entries of both SMPL layers (``*.smpl.*`` among ``keys``), rebuilt from an
    ``smpl`` fixture section exactly as the official model holds them (smplx layouts)."""
    V = smpl["v_template"].shape[0]
    parents = smpl["kintree_table"][0].clone().to(torch.int64)
    parents[0] = -1
    own = {
        "faces_tensor": smpl["f"].to(torch.int64), "v_template": smpl["v_template"],
        "shapedirs": smpl["shapedirs"], "J_regressor": smpl["J_regressor"],
        "posedirs": smpl["posedirs"].reshape(3 * V, -1).T.contiguous(), "parents": parents,
        "lbs_weights": smpl["weights"], "J_regressor_extra": smpl["J_regressor_extra"],
        "vertex_joint_selector.extra_joints_idxs": smpl["extra_joints_idxs"].to(torch.int64),
    }
    out: dict[str, torch.Tensor] = {}
    for k in keys:
        prefix = next((p for p in _SMPL_LAYERS if k.startswith(p)), None)
        if prefix is None:
            continue
        name = k[len(prefix):]
        if name in own:
            out[k] = own[name].clone()
        elif name in ("betas", "global_orient", "body_pose"):  # smplx's default-pose parameters: zeros
            width = {"betas": smpl["shapedirs"].shape[-1], "global_orient": 3, "body_pose": 69}[name]
            out[k] = torch.zeros(64, width, dtype=torch.float32)
    return out


def load_reference() -> dict[str, Any]:
    """The official reference record ``glot_official_small.pt`` (see ``tests/fixtures/README.md``).

    The repository's copy stores the state dict without the SMPL layers' buffers (rebuilt here from
    the ``smpl`` section, bit for bit) and with the never-read tensors zeroed
    (:data:`UNUSED_REFERENCE_KEYS`); the original record (``$GLOT_FIXTURES``) loads unchanged.
    """
    ref = torch.load(fixtures_dir() / "glot_official_small.pt", map_location="cpu", weights_only=True)
    keys = ref.pop("state_dict_keys", None)
    if keys is not None:
        stored = ref["state_dict"]
        rebuilt = rebuild_smpl_buffers(ref["smpl"], keys)
        ref["state_dict"] = {k: stored[k] if k in stored else rebuilt[k] for k in keys}
    return ref


def synthetic_smpl_arrays(num_verts: int = 6890, seed: int = 0) -> dict[str, Any]:
    """A random SMPL-format body of ``num_verts`` vertices (for speed benchmarks and size tests).

    Vertices are spread over a 1.7 m tall box; each vertex is skinned to its nearest joint.
    Returns a dict in the fixture's ``smpl`` layout (numpy arrays).
    """
    rng = np.random.default_rng(seed)
    parents = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
    joints = np.array(
        [[0, 0.9, 0], [0.09, 0.82, 0], [-0.09, 0.82, 0], [0, 1.0, 0], [0.1, 0.45, 0], [-0.1, 0.45, 0],
         [0, 1.12, 0], [0.1, 0.08, 0], [-0.1, 0.08, 0], [0, 1.18, 0], [0.1, 0.02, 0.1], [-0.1, 0.02, 0.1],
         [0, 1.4, 0], [0.08, 1.33, 0], [-0.08, 1.33, 0], [0, 1.55, 0], [0.18, 1.38, 0], [-0.18, 1.38, 0],
         [0.45, 1.38, 0], [-0.45, 1.38, 0], [0.7, 1.38, 0], [-0.7, 1.38, 0], [0.78, 1.38, 0], [-0.78, 1.38, 0]],
        dtype=np.float32,
    )
    owner = rng.integers(0, 24, size=num_verts)
    v = (joints[owner] + rng.normal(0, 0.04, size=(num_verts, 3))).astype(np.float32)
    weights = np.zeros((num_verts, 24), np.float32)
    weights[np.arange(num_verts), owner] = 1.0
    jreg = np.zeros((24, num_verts), np.float32)
    for j in range(24):
        idx = np.flatnonzero(owner == j)
        jreg[j, idx] = 1.0 / len(idx)
    kintree = np.stack([parents, np.arange(24)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    # sparse regressors like the real ones: each joint averages a few dozen vertices
    extra = np.zeros((9, num_verts), np.float32)
    h36m = np.zeros((17, num_verts), np.float32)
    for reg in (extra, h36m):
        for row in reg:
            idx = rng.choice(num_verts, size=min(30, num_verts), replace=False)
            row[idx] = rng.dirichlet(np.ones(len(idx)))
    names = ["nose", "reye", "leye", "rear", "lear", "rthumb", "rindex", "rmiddle", "rring", "rpinky", "lthumb",
             "lindex", "lmiddle", "lring", "lpinky", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"]
    vertex_ids = {n: int(i) for n, i in zip(names, rng.choice(num_verts, size=len(names), replace=False))}
    pose = np.tile(np.array([1, 0, 0, 1, 0, 0], np.float32), 24)
    return {
        "v_template": v,
        "shapedirs": (rng.normal(0, 0.01, size=(num_verts, 3, 10))).astype(np.float32),
        "posedirs": (rng.normal(0, 0.001, size=(num_verts, 3, 207))).astype(np.float32),
        "J_regressor": jreg,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, num_verts, size=(max(num_verts * 2 - 4, 1), 3)).astype(np.int64),
        "J_regressor_extra": extra,
        "J_regressor_h36m": h36m,
        "vertex_ids": vertex_ids,
        "mean_params": {"pose": pose, "shape": np.zeros(10, np.float64), "cam": np.array([0.9, 0, 0], np.float32)},
    }
