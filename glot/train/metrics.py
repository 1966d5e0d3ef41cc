"""Evaluation metrics, with the official GLoT/VIBE procedure (``evaluate.py``, ``eval_utils.py``).

All errors are in the input unit (metres); :func:`evaluate_frames` reports millimetres.
Joints are 14 LSP joints ``(N, 14, 3)`` (pelvis = mean of the hips, indices 2 and 3) or the 17
MPI-INF-3DHP test joints (pelvis = index 14, see :data:`MPII3D_PELVIS`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "M2MM", "MPII3D_PELVIS", "align_by_pelvis", "batch_similarity_transform", "similarity_transform",
    "similarity_transform_np", "compute_accel", "compute_error_accel", "compute_error_verts", "compute_errors",
    "FrameErrors", "evaluate_frames",
]

M2MM = 1000.0
MPII3D_PELVIS = 14  # 'hip' in the 17-joint MPI-INF-3DHP test order (the official ``[-3]``)


def align_by_pelvis(joints: torch.Tensor, pelvis: int | None = None) -> torch.Tensor:
    """Subtract the pelvis: ``(N, J, 3)`` -> ``(N, J, 3)``.

    ``pelvis=None``: mean of joints 2 and 3 (LSP hips); otherwise that joint.
    """
    if pelvis is None:
        root = (joints[:, [2], :] + joints[:, [3], :]) / 2.0
    else:
        root = joints[:, [pelvis], :]
    return joints - root


def batch_similarity_transform(S1: torch.Tensor, S2: torch.Tensor) -> torch.Tensor:
    """Per-frame Procrustes alignment (scale, rotation, translation) of ``S1`` onto ``S2``.

    Args:
        S1, S2: ``(N, J, 3)``.
    Returns:
        ``(N, J, 3)``: ``S1`` aligned to ``S2``.
    """
    X = S1.transpose(1, 2)  # (N, 3, J)
    Y = S2.transpose(1, 2)
    mu1 = X.mean(dim=-1, keepdim=True)
    mu2 = Y.mean(dim=-1, keepdim=True)
    X1, X2 = X - mu1, Y - mu2
    var1 = (X1 ** 2).sum(dim=(1, 2))  # (N,)
    K = X1 @ X2.transpose(1, 2)  # (N, 3, 3)
    U, _, Vh = torch.linalg.svd(K)
    V = Vh.transpose(1, 2)
    Z = torch.eye(3, dtype=S1.dtype, device=S1.device).repeat(S1.shape[0], 1, 1)
    Z[:, -1, -1] *= torch.sign(torch.det(U @ Vh))  # det(U V^T): keep R a proper rotation
    R = V @ Z @ U.transpose(1, 2)
    scale = torch.diagonal(R @ K, dim1=1, dim2=2).sum(-1) / var1  # (N,)
    t = mu2 - scale[:, None, None] * (R @ mu1)
    return (scale[:, None, None] * (R @ X) + t).transpose(1, 2)


def similarity_transform(S1: torch.Tensor, S2: torch.Tensor) -> torch.Tensor:
    """One frame: ``(J, 3)`` -> ``(J, 3)`` (same solution as :func:`batch_similarity_transform`)."""
    return batch_similarity_transform(S1[None], S2[None])[0]


def similarity_transform_np(S1: np.ndarray, S2: np.ndarray) -> np.ndarray:
    """NumPy Procrustes of one frame ``(J, 3)`` (``eval_utils.compute_similarity_transform``)."""
    X, Y = S1.T, S2.T
    mu1, mu2 = X.mean(axis=1, keepdims=True), Y.mean(axis=1, keepdims=True)
    X1, X2 = X - mu1, Y - mu2
    K = X1 @ X2.T
    U, _, Vh = np.linalg.svd(K)
    V = Vh.T
    Z = np.eye(3)
    Z[-1, -1] *= np.sign(np.linalg.det(U @ V.T))
    R = V @ Z @ U.T
    scale = np.trace(R @ K) / np.sum(X1 ** 2)
    t = mu2 - scale * (R @ mu1)
    return (scale * (R @ X) + t).T


def _np(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def compute_accel(joints: np.ndarray | torch.Tensor) -> np.ndarray:
    """Mean joint acceleration magnitude: ``(N, J, 3)`` -> ``(N-2,)``."""
    j = _np(joints)
    acc = j[:-2] - 2 * j[1:-1] + j[2:]
    return np.linalg.norm(acc, axis=2).mean(axis=1)


def compute_error_accel(joints_gt: np.ndarray | torch.Tensor, joints_pred: np.ndarray | torch.Tensor,
                        vis: np.ndarray | None = None) -> np.ndarray:
    """Acceleration error per frame ``(N-2,)`` (or fewer with ``vis``).

    Args:
        joints_gt, joints_pred: ``(N, J, 3)``.
        vis: ``(N,)`` bool; an acceleration is dropped when any of its 3 frames is invisible.
    """
    g, p = _np(joints_gt), _np(joints_pred)
    acc_g = g[:-2] - 2 * g[1:-1] + g[2:]
    acc_p = p[:-2] - 2 * p[1:-1] + p[2:]
    normed = np.linalg.norm(acc_p - acc_g, axis=2)  # (N-2, J)
    if vis is None:
        keep = np.ones(len(normed), dtype=bool)
    else:
        invis = ~np.asarray(vis, dtype=bool)
        keep = ~(invis | np.roll(invis, -1) | np.roll(invis, -2))[:-2]
    return normed[keep].mean(axis=1)


def compute_error_verts(pred_verts: np.ndarray | torch.Tensor, target_verts: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-vertex error averaged per frame: ``(N, V, 3)`` x2 -> ``(N,)`` (PVE, metres)."""
    p, t = _np(pred_verts), _np(target_verts)
    if len(p) != len(t):
        raise ValueError(f"{len(p)} predicted vs {len(t)} target meshes")
    return np.sqrt(((t - p) ** 2).sum(axis=2)).mean(axis=1)


def compute_errors(gt3ds: np.ndarray, preds: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-frame MPJPE and PA-MPJPE (metres) after hip alignment, NumPy path (``compute_errors``)."""
    errors, errors_pa = [], []
    for gt, pred in zip(np.asarray(gt3ds), np.asarray(preds)):
        gt = gt.reshape(-1, 3)
        gt = gt - (gt[2] + gt[3])[None] / 2.0
        pred = pred - (pred[2] + pred[3])[None] / 2.0
        errors.append(float(np.sqrt(((gt - pred) ** 2).sum(axis=1)).mean()))
        pa = similarity_transform_np(pred, gt)
        errors_pa.append(float(np.sqrt(((gt - pa) ** 2).sum(axis=1)).mean()))
    return errors, errors_pa


@dataclass
class FrameErrors:
    """Per-frame errors of one sequence (mm). ``mpvpe`` is None without meshes."""

    mpjpe: np.ndarray  # (M,) evaluated frames
    mpjpe_pa: np.ndarray  # (M,)
    accel_err: np.ndarray  # (M',) evaluated frames other than the first and last
    accel_err_full: np.ndarray  # (N,) float64, zero at frames 0 and N-1
    mpvpe: np.ndarray | None = None  # (N,)


def evaluate_frames(
    pred_j3ds: torch.Tensor | np.ndarray,
    target_j3ds: torch.Tensor | np.ndarray,
    pred_verts: np.ndarray | torch.Tensor | None = None,
    target_verts: np.ndarray | torch.Tensor | None = None,
    valid: np.ndarray | None = None,
    pelvis: int | None = None,
) -> FrameErrors:
    """The ``evaluate.py`` procedure for one video.

    Args:
        pred_j3ds, target_j3ds: ``(N, J, 3)`` metres, consecutive frames.
        pred_verts, target_verts: ``(N, V, 3)`` for PVE (optional).
        valid: ``(N,)`` bool frames to score (MPI-INF-3DHP's ``valid_i``); default all.
        pelvis: root joint index (None: mean of the hips 2, 3).
    """
    pred = torch.as_tensor(_np(pred_j3ds)).float()
    target = torch.as_tensor(_np(target_j3ds)).float()
    n = len(pred)
    vmap = np.arange(n) if valid is None else np.flatnonzero(np.asarray(valid).astype(bool))
    vmap = vmap[vmap < n]
    pred = align_by_pelvis(pred, pelvis)
    target = align_by_pelvis(target, pelvis)
    mpjpe = torch.sqrt(((pred - target) ** 2).sum(-1)).numpy()[vmap].mean(axis=-1) * M2MM
    s1 = batch_similarity_transform(pred, target)
    mpjpe_pa = torch.sqrt(((s1 - target) ** 2).sum(-1)).numpy()[vmap].mean(axis=-1) * M2MM
    accel_full = np.zeros(n)
    if n >= 3:
        accel_full[1:-1] = compute_error_accel(joints_gt=target.numpy(), joints_pred=pred.numpy()) * M2MM
    amap = vmap[(vmap != 0) & (vmap != n - 1)]
    mpvpe = None
    if pred_verts is not None and target_verts is not None:
        mpvpe = compute_error_verts(pred_verts, target_verts) * M2MM
    return FrameErrors(mpjpe=mpjpe, mpjpe_pa=mpjpe_pa, accel_err=accel_full[amap], accel_err_full=accel_full,
                       mpvpe=mpvpe)
