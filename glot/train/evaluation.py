"""Scoring a model on a database with the official ``evaluate.py`` procedure.

Per video (the frames of one ``vid_name``, after dropping frames that are not ``valid``): one
window per frame, the model's centre-frame output, then
:func:`glot.train.metrics.evaluate_frames`. Joints: the 14 LSP joints through the H36M regressor
(3DPW, Human3.6M), or SPIN's 49 joints reduced to the 17 MPI-INF-3DHP test joints (pelvis joint
14, frames scored where ``valid_i``), as the official script. PVE only for 3DPW (SMPL targets).

Two window protocols (:func:`glot.train.data.eval_window_indices`):

* ``"official"`` (default): the official script's windows, numbers equal to ``evaluate.py``
  (the paper's tables): videos shorter than ``seqlen`` are skipped and the last ``seqlen//2 - 1``
  predictions come in reverse frame order against in-order targets, which inflates the errors,
  above all the acceleration error, near each video's end;
* ``"clean"``: every frame scored against its own centred window (edges clamped), every video.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch

from ..body.joints import SPIN_JOINT_NAMES
from ..body.smpl import SMPLBody
from ..geometry import axis_angle_to_rotmat
from ..model.glot import GLoT
from .data import EVAL_PROTOCOLS, LSP14, eval_window_indices
from .metrics import MPII3D_PELVIS, evaluate_frames

__all__ = ["EVAL_DATASETS", "MPII3D_TEST_FROM_SPIN", "EvalResult", "target_vertices", "evaluate_database"]

EVAL_DATASETS = ("3dpw", "h36m", "mpii3d")
_MPII3D_TEST = ("Top of Head (LSP)", "Neck (LSP)", "Right Shoulder", "Right Elbow", "Right Wrist", "Left Shoulder",
                "Left Elbow", "Left Wrist", "Right Hip", "Right Knee", "Right Ankle", "Left Hip", "Left Knee",
                "Left Ankle", "Pelvis (MPII)", "Spine (H36M)", "Head (H36M)")
MPII3D_TEST_FROM_SPIN: tuple[int, ...] = tuple(SPIN_JOINT_NAMES.index(n) for n in _MPII3D_TEST)


@dataclass
class EvalResult:
    """Means over all scored frames (mm) and per-video frame errors."""

    mpjpe_pa: float
    mpjpe: float
    accel_err: float
    mpvpe: float | None
    num_frames: int
    per_video: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def row(self) -> dict[str, float | None]:
        """The paper's row: PA-MPJPE, MPJPE, PVE, Accel (mm)."""
        return {"PA-MPJPE": self.mpjpe_pa, "MPJPE": self.mpjpe, "PVE": self.mpvpe, "Accel": self.accel_err}


@torch.no_grad()
def target_vertices(body: SMPLBody, theta: torch.Tensor | np.ndarray, chunk: int = 512) -> np.ndarray:
    """Ground-truth meshes from ``theta (N, 85)`` (axis-angle pose, pose2rot): ``(N, V, 3)``."""
    th = torch.as_tensor(np.asarray(theta), dtype=torch.float32)
    dev = body.v_template.device
    out = []
    for part in th.split(chunk):
        rot = axis_angle_to_rotmat(part[:, 3:75].reshape(-1, 24, 3)).to(dev)
        out.append(body.pose(part[:, 75:].to(dev), rot, need_verts=True).verts.cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, body.num_verts, 3), np.float32)


@torch.no_grad()
def _predict(model: GLoT, feats: torch.Tensor, J_regressor: torch.Tensor | None, need_verts: bool,
             batch_size: int, protocol: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Centre-frame joints ``(M, J, 3)`` (and meshes) of the protocol's windows over one video
    ``feats (N, F)``; ``M = 0`` when the protocol skips the video."""
    idx = torch.from_numpy(eval_window_indices(len(feats), model.cfg.seqlen, protocol))
    if len(idx) == 0:
        return np.zeros((0, 0, 3), np.float32), None
    dev = model.device
    joints, verts = [], []
    for part in idx.split(batch_size):
        out = model(feats[part].to(dev), is_train=False, J_regressor=J_regressor, need_verts=need_verts,
                    need_global_verts=False)
        joints.append(out.final.kp_3d.cpu())
        if need_verts:
            verts.append(out.final.verts.cpu())
    return torch.cat(joints).numpy(), (torch.cat(verts).numpy() if need_verts else None)


def evaluate_database(
    model: GLoT,
    db: Mapping[str, Any],
    dataset: str,
    J_regressor: torch.Tensor | None = None,
    batch_size: int = 64,
    progress: bool = False,
    max_videos: int | None = None,
    protocol: str = "official",
) -> EvalResult:
    """Score ``model`` on ``db`` (see module doc).

    Args:
        db: per-frame arrays (``features``, ``joints3D``, ``vid_name``; ``pose``/``shape`` for 3DPW's
            PVE; ``valid`` filters frames first; MPI-INF-3DHP ``valid_i`` selects scored frames).
        dataset: ``"3dpw"``, ``"h36m"`` or ``"mpii3d"``.
        J_regressor: ``(17, V)`` H36M regressor (required except for ``mpii3d``).
        max_videos: score only the first videos (in order of first appearance).
        protocol: ``"official"`` (``evaluate.py``'s windows) or ``"clean"`` (see module doc).
    """
    if dataset not in EVAL_DATASETS:
        raise ValueError(f"unknown evaluation dataset '{dataset}'; choose from {EVAL_DATASETS}")
    if protocol not in EVAL_PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol '{protocol}'; choose from {EVAL_PROTOCOLS}")
    mpii = dataset == "mpii3d"
    if not mpii and J_regressor is None:
        raise ValueError(f"{dataset}: the H36M joint regressor is required")
    jreg = None if mpii else J_regressor.to(model.device)
    with_pve = dataset == "3dpw" and "pose" in db and "shape" in db
    was_training = model.training
    model.eval()
    names = np.asarray(db["vid_name"])
    keep = np.ones(len(names), bool)
    if "valid" in db:
        keep = np.asarray(db["valid"]).reshape(len(names), -1)[:, 0].astype(bool)
    # one video = every frame of one name, in database order (official: ``vid_name == name``)
    _, first = np.unique(names, return_index=True)
    videos = [names[i] for i in np.sort(first)]
    if max_videos is not None:
        videos = videos[:max_videos]
    it: Any = videos
    if progress:
        from tqdm import tqdm

        it = tqdm(videos, desc=f"eval {dataset}", leave=False)
    per_video: dict[str, dict[str, np.ndarray]] = {}
    body = model.body
    for name in it:
        rows = np.flatnonzero((names == name) & keep)
        if len(rows) == 0:
            continue
        feats = torch.as_tensor(np.asarray(db["features"][rows], dtype=np.float32))
        pred_j, pred_v = _predict(model, feats, jreg, with_pve, batch_size, protocol)
        if len(pred_j) == 0:  # official: a video shorter than the window is not scored
            continue
        rows = rows[:len(pred_j)]  # official: targets[:len(predictions)] (odd window lengths)
        tgt = np.asarray(db["joints3D"][rows], dtype=np.float32)[..., :3]
        valid = None
        if mpii:
            pred_j = pred_j[:, list(MPII3D_TEST_FROM_SPIN)]
            if tgt.shape[1] == 49:
                tgt = tgt[:, list(MPII3D_TEST_FROM_SPIN)]
            if "valid_i" in db:
                valid = np.asarray(db["valid_i"][rows]).reshape(len(rows), -1)[:, 0].astype(bool)
                if not valid.any():
                    continue
        elif tgt.shape[1] == 49:
            tgt = tgt[:, LSP14]
        tgt_v = None
        if with_pve:
            theta = np.zeros((len(rows), 85), np.float32)
            theta[:, 3:75], theta[:, 75:] = db["pose"][rows], db["shape"][rows]
            tgt_v = target_vertices(body, theta)
        err = evaluate_frames(pred_j, tgt, pred_v, tgt_v, valid=valid, pelvis=MPII3D_PELVIS if mpii else None)
        res = {"mpjpe": err.mpjpe, "mpjpe_pa": err.mpjpe_pa, "accel_err": err.accel_err}
        if err.mpvpe is not None:
            res["mpvpe"] = err.mpvpe
        per_video[str(name)] = res
    model.train(was_training)
    if not per_video:
        why = ""
        if protocol == "official":
            why = f"; the official protocol skips videos shorter than {model.cfg.seqlen} frames"
        raise ValueError(f"no frame could be scored (empty database or no valid frames{why})")
    cat = lambda k: np.concatenate([v[k] for v in per_video.values()])  # noqa: E731
    return EvalResult(
        mpjpe_pa=float(cat("mpjpe_pa").mean()), mpjpe=float(cat("mpjpe").mean()),
        accel_err=float(cat("accel_err").mean()) if len(cat("accel_err")) else float("nan"),
        mpvpe=float(cat("mpvpe").mean()) if with_pve else None,
        num_frames=int(len(cat("mpjpe"))), per_video=per_video,
    )
