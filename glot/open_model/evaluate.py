"""Scoring the open model: held-out synthetic clips (3D errors) and real footage (agreement of the
projected joints with MediaPipe's 2D landmarks)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..body.joints import SPIN_JOINT_NAMES
from ..model.glot import GLoT
from ..train.data import eval_window_indices
from ..train.metrics import evaluate_frames

__all__ = ["LANDMARK_JOINT_PAIRS", "predict_sequence", "score_sequences", "landmark_agreement", "Agreement"]

# SPIN joint name -> BlazePose landmark index (the joints both sets name the same way)
LANDMARK_JOINT_PAIRS: dict[str, int] = {
    "Left Shoulder": 11, "Right Shoulder": 12, "Left Elbow": 13, "Right Elbow": 14, "Left Wrist": 15,
    "Right Wrist": 16, "Left Hip": 23, "Right Hip": 24, "Left Knee": 25, "Right Knee": 26, "Left Ankle": 27,
    "Right Ankle": 28,
}
LSP = slice(25, 39)


@torch.inference_mode()
def predict_sequence(model: GLoT, features: np.ndarray, per_frame: bool = False, batch: int = 128
                     ) -> dict[str, np.ndarray]:
    """GLoT on every frame of one sequence (frame ``i`` = centre of its window, edges repeated).

    Args:
        features: ``(N, F)``.
        per_frame: the baseline without temporal context: each window is frame ``i`` repeated T times.
    Returns:
        ``final_kp3d``, ``global_kp3d`` ``(N, 49, 3)``; ``final_theta``, ``global_theta`` ``(N, 85)``.
    """
    T = model.cfg.seqlen
    x = torch.as_tensor(features, dtype=torch.float32, device=model.device)
    n = len(x)
    idx = np.repeat(np.arange(n)[:, None], T, 1) if per_frame else eval_window_indices(n, T)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("final_kp3d", "global_kp3d", "final_theta", "global_theta")}
    for s in range(0, n, batch):
        o = model(x[torch.as_tensor(idx[s:s + batch])], need_verts=False, need_global_verts=False)
        out["final_kp3d"].append(o.final.kp_3d.float().cpu().numpy())
        out["global_kp3d"].append(o.global_.kp_3d[:, 0].float().cpu().numpy())
        out["final_theta"].append(o.final.theta.float().cpu().numpy())
        out["global_theta"].append(o.global_.theta[:, 0].float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def score_sequences(model: GLoT, sequences: list[tuple[str, object]]) -> dict[str, dict[str, float]]:
    """MPJPE, PA-MPJPE, acceleration error (mm, 14 LSP joints, the official procedure) of the final
    branch, the global branch and the per-frame baseline (final branch without temporal context),
    averaged over all frames of ``sequences`` (``[(name, SyntheticSequence), ...]``)."""
    rows: dict[str, dict[str, list[np.ndarray]]] = {k: {"mpjpe": [], "pa_mpjpe": [], "accel": []}
                                                    for k in ("final", "global", "per_frame")}
    for _, seq in sequences:
        gt = seq.joints3D[:, LSP]
        pred = predict_sequence(model, seq.features)
        base = predict_sequence(model, seq.features, per_frame=True)
        for k, p in (("final", pred["final_kp3d"]), ("global", pred["global_kp3d"]), ("per_frame", base["final_kp3d"])):
            e = evaluate_frames(p[:, LSP], gt)
            rows[k]["mpjpe"].append(e.mpjpe)
            rows[k]["pa_mpjpe"].append(e.mpjpe_pa)
            rows[k]["accel"].append(e.accel_err)
    return {k: {m: float(np.concatenate(v).mean()) for m, v in r.items()} for k, r in rows.items()}


@dataclass(frozen=True)
class Agreement:
    """Distances between projected predicted joints and MediaPipe's landmarks on a clip.

    median_px: median over (frame, joint) pairs; median_pct_height: median of distance / the
    person's projected height (head top to the lower ankle of the predicted body) in percent;
    median_pct_box: the same over the tracker's box side (the visible extent: stricter on close
    shots); pairs: how many (frame, joint) pairs were compared.
    """

    median_px: float
    median_pct_height: float
    median_pct_box: float
    pairs: int


def landmark_agreement(results: dict[str, np.ndarray], branch: str = "final", min_visibility: float = 0.5
                       ) -> Agreement:
    """Compare a run's ``<branch>_joints2d`` (pixels) with its MediaPipe ``landmarks`` at the 12
    joints of :data:`LANDMARK_JOINT_PAIRS`, on every person's detected frames, where the landmark's
    visibility is at least ``min_visibility`` and it lies inside the image (``results.npz`` arrays,
    person axis first)."""
    W, H = (int(v) for v in results["image_size"])
    j2d = results[f"{branch}_joints2d"].reshape(-1, 49, 2)  # (P*N, 49, 2) pixels
    lm4 = results["landmarks"].reshape(-1, 33, 4)  # x, y, z, visibility
    lm, vis = lm4[..., :2], lm4[..., 3]
    frames = np.flatnonzero(results["detected"].reshape(-1) & np.isfinite(j2d).all((1, 2)))
    spin = [SPIN_JOINT_NAMES.index(n) for n in LANDMARK_JOINT_PAIRS]
    mp = list(LANDMARK_JOINT_PAIRS.values())
    p, q, v = j2d[frames][:, spin], lm[frames][:, mp], vis[frames][:, mp]  # (M, 12, 2), (M, 12, 2), (M, 12)
    inside = (q[..., 0] >= 0) & (q[..., 0] < W) & (q[..., 1] >= 0) & (q[..., 1] < H)
    use = (v >= min_visibility) & inside
    d = np.linalg.norm(p - q, axis=-1)  # (M, 12)
    head = j2d[frames][:, SPIN_JOINT_NAMES.index("Top of Head (LSP)")]
    ankles = j2d[frames][:, [SPIN_JOINT_NAMES.index("Left Ankle"), SPIN_JOINT_NAMES.index("Right Ankle")]]
    height = np.linalg.norm(ankles - head[:, None], axis=-1).max(1)  # (M,)
    box = results["box"].reshape(-1, 4)[frames, 2]
    if not use.any():
        return Agreement(float("nan"), float("nan"), float("nan"), 0)
    return Agreement(median_px=float(np.median(d[use])),
                     median_pct_height=float(np.median((d / height[:, None])[use]) * 100),
                     median_pct_box=float(np.median((d / box[:, None])[use]) * 100), pairs=int(use.sum()))
