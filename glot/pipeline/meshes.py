"""Meshes of every person, posed once per frame and shared by the overlay, the per-frame exports
and the viewer.

Each person keeps one body shape per branch: the median of the branch's per-frame betas over the
person's frames (``results.npz`` keeps the per-frame betas and the joints computed with them). The
motion files carry the same shape, so their skinned meshes equal these vertices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np
import torch

from ..body.smpl import SMPLBody
from .regress import BranchResult, Gpu, _direct

__all__ = ["person_shapes", "FrameMeshes", "iter_frame_meshes", "pose_meshes"]


def person_shapes(branch: BranchResult, valid: np.ndarray) -> np.ndarray:
    """``(P, 10)`` median betas of each person over their valid frames (zeros for nobody)."""
    P = valid.shape[0]
    out = np.zeros((P, branch.betas.shape[-1]), np.float32)
    for p in range(P):
        if valid[p].any():
            out[p] = np.median(branch.betas[p, valid[p]], axis=0)
    return out


@torch.inference_mode()
def _pose(body: SMPLBody, betas: np.ndarray, rotmat: np.ndarray) -> np.ndarray:
    dev = body.v_template.device
    out = body.pose(torch.from_numpy(betas).to(dev), torch.from_numpy(rotmat).to(dev), need_verts=True)
    return out.verts.float().cpu().numpy()


def pose_meshes(body: SMPLBody, betas: np.ndarray, rotmat: np.ndarray, gpu: Gpu = _direct) -> np.ndarray:
    """``(K, V, 3)`` camera-frame vertices for ``betas (K, 10)`` and ``rotmat (K, 24, 3, 3)``."""
    if len(betas) == 0:
        return np.zeros((0, body.num_verts, 3), np.float32)
    return gpu(_pose, body, np.ascontiguousarray(betas, np.float32), np.ascontiguousarray(rotmat, np.float32),
               work=len(betas))


@dataclass
class FrameMeshes:
    """The meshes of one frame: ``people`` indices present, and per branch ``(len(people), V, 3)``."""

    index: int
    people: np.ndarray
    verts: dict[str, np.ndarray]


def iter_frame_meshes(body: SMPLBody, branches: Mapping[str, BranchResult], shapes: Mapping[str, np.ndarray],
                      valid: np.ndarray, frames_per_batch: int = 16, gpu: Gpu = _direct) -> Iterator[FrameMeshes]:
    """Every frame ``0..N-1`` in order, with the meshes of the people valid there (both branches
    posed in one batch per ``frames_per_batch`` frames).

    Args:
        branches: branch -> ``(P, N, ...)`` estimates; shapes: branch -> ``(P, 10)``; valid: ``(P, N)``.
    """
    P, N = valid.shape
    names = list(branches)
    for start in range(0, N, frames_per_batch):
        stop = min(start + frames_per_batch, N)
        p_idx, t_idx = np.nonzero(valid[:, start:stop].T)[::-1]  # frame-major order
        t_idx = t_idx + start
        betas = np.concatenate([shapes[b][p_idx] for b in names])
        rot = np.concatenate([branches[b].rotmat[p_idx, t_idx] for b in names])
        verts = pose_meshes(body, betas, rot, gpu).reshape(len(names), len(p_idx), -1, 3) if len(p_idx) else None
        for t in range(start, stop):
            sel = np.flatnonzero(t_idx == t)
            yield FrameMeshes(index=t, people=p_idx[sel],
                              verts={b: (verts[k, sel] if verts is not None else np.zeros((0, body.num_verts, 3),
                                                                                           np.float32))
                                     for k, b in enumerate(names)})
