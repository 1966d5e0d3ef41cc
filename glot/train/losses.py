"""GLoT training losses (the official ``GLoTLoss``, without the unused motion discriminator).

For each branch the loss is

``w_2d * L_kp2d + w_3d * L_kp3d + w_vel2d * L_vel2d + w_vel3d * L_vel3d + w_pose * L_pose + w_shape * L_shape``

* global branch: all ``T`` frames, every term multiplied by the frame mask (True = hidden from the
  global encoder): the masked-HPE strategy (official). ``global_mask="params"`` restricts the mask
  to the SMPL-parameter terms, ``"none"`` disables it;
* local branch: the 3 centre frames ``T//2 - 1 .. T//2 + 1``, no mask.

Optional (ours, off by default): with chained samples (``T + K - 1`` frames cut into ``K``
consecutive windows, :func:`unfold_chain`, run as at inference), :func:`chain_losses` compares the
velocity and acceleration of the final branch's centre frames across the ``K`` windows with the
ground truth: the frame-to-frame jitter of sliding-window inference, which the per-window terms
never see.

Each term is a mean over the frames that carry that supervision (official reductions: the mask
multiplies, it does not renormalise). Keypoints are SPIN's 49; the 3D terms use the 14 LSP joints
(25..38), pelvis-aligned for positions. The pose term compares rotation matrices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from ..geometry import axis_angle_to_rotmat
from ..model.outputs import BodyOutput, GLoTOutput

__all__ = ["LossConfig", "GLoTLoss", "branch_losses", "chain_losses", "unfold_chain"]

LSP = slice(25, 39)


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (official names in comments; defaults: ``repr_table1_3dpw.yaml``)."""

    kp_2d: float = 300.0  # LOSS.KP_2D_W
    kp_3d: float = 300.0  # LOSS.KP_3D_W
    pose: float = 60.0  # LOSS.POSE_W
    shape: float = 0.06  # LOSS.SHAPE_W
    vel_2d: float = 10.0  # LOSS.vel_or_accel_2d_weight
    vel_3d: float = 100.0  # LOSS.vel_or_accel_3d_weight
    use_accel: bool = False  # LOSS.use_accel: second differences instead of first
    global_mask: str = "all"  # "all" (official) | "params" | "none"
    # ours (0 = official): the final branch's centre frames of K consecutive windows
    # (``TrainConfig.chain = K > 1``) against the ground truth's velocity / acceleration, the
    # frame-to-frame behaviour that sliding-window inference produces
    chain_vel_3d: float = 0.0
    chain_accel_3d: float = 0.0
    chain_accel_2d: float = 0.0

    def __post_init__(self) -> None:
        if self.global_mask not in ("all", "params", "none"):
            raise ValueError("global_mask must be 'all', 'params' or 'none'")

    @property
    def has_chain_terms(self) -> bool:
        """Whether any cross-window term has weight (else no chained samples are needed)."""
        return bool(self.chain_vel_3d or self.chain_accel_3d or self.chain_accel_2d)


def _diff(x: torch.Tensor, accel: bool) -> torch.Tensor:
    """Temporal difference along dim 1, zero-padded back to ``T`` frames: ``(B, T, ...)``."""
    pad = torch.zeros_like(x[:, :1])
    if accel:
        return torch.cat([pad, x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2], pad], dim=1)
    return torch.cat([x[:, 1:] - x[:, :-1], pad], dim=1)


def _diff_conf(conf: torch.Tensor, accel: bool) -> torch.Tensor:
    """Confidence of a difference: that of its first (velocity) or middle (acceleration) frame."""
    pad = torch.zeros_like(conf[:, :1])
    if accel:
        return torch.cat([pad, conf[:, 1:-1], pad], dim=1)
    return torch.cat([conf[:, :-1], pad], dim=1)


def _kp2d(pred: torch.Tensor, gt: torch.Tensor, conf: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """Confidence-weighted MSE: pred ``(N, 49, 2)``, gt ``(N, 49, 2)``, conf ``(N, 49)``, m ``(N,)``."""
    err = conf[..., None] * (pred - gt) ** 2
    if m is not None:
        err = err * m[:, None, None]
    return err.mean()


def _rows_mean(err: torch.Tensor, rows: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``err (N, ...)`` over the supervised rows (mask multiplies); 0 without rows."""
    err = err[rows]
    if err.shape[0] == 0:
        return err.sum() * 0.0
    if m is not None:
        err = err * m[rows].reshape(-1, *([1] * (err.dim() - 1)))
    return err.mean()


def _pelvis_align(j: torch.Tensor) -> torch.Tensor:
    """14 LSP joints ``(N, 14, 3)`` minus the hip centre."""
    return j - (j[:, 2:3] + j[:, 3:4]) / 2.0


def branch_losses(
    pred: BodyOutput,
    target: Mapping[str, torch.Tensor],
    cfg: LossConfig,
    mask: torch.Tensor | None = None,
    param_mask: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Weighted loss terms of one branch.

    Args:
        pred: ``(B, S, ...)`` outputs (``kp_2d (B, S, 49, 2)``, ``kp_3d (B, S, 49, 3)``,
            ``rotmat (B, S, 24, 3, 3)``, ``betas (B, S, 10)``).
        target: ``kp_2d (B, S, 49, 3)``, ``kp_3d (B, S, 49, 3)``, ``theta (B, S, 85)``,
            ``w_3d (B, S)``, ``w_smpl (B, S)``.
        mask: ``(B, S)`` multiplier of the keypoint terms (None: 1).
        param_mask: ``(B, S)`` multiplier of the SMPL-parameter terms (None: 1).
    Returns:
        ``{kp_2d, kp_3d, vel_2d, vel_3d, pose, shape}`` (weights applied).
    """
    B, S = pred.kp_2d.shape[:2]
    flat = lambda x: x.reshape(B * S, *x.shape[2:])  # noqa: E731  (B, S, ...) -> (B*S, ...)
    m = None if mask is None else flat(mask.float())
    pm = None if param_mask is None else flat(param_mask.float())
    gt2d, conf = target["kp_2d"][..., :2], target["kp_2d"][..., 2]
    w3d = flat(target["w_3d"]).bool()
    wsmpl = flat(target["w_smpl"]).bool()
    p3 = pred.kp_3d[:, :, LSP]  # (B, S, 14, 3)
    g3 = target["kp_3d"][:, :, LSP, :3]
    acc = cfg.use_accel

    out: dict[str, torch.Tensor] = {}
    out["kp_2d"] = cfg.kp_2d * _kp2d(flat(pred.kp_2d), flat(gt2d), flat(conf), m)
    err3 = (_pelvis_align(flat(p3)) - _pelvis_align(flat(g3))) ** 2  # (N, 14, 3)
    out["kp_3d"] = cfg.kp_3d * _rows_mean(err3, w3d, m)
    out["vel_2d"] = cfg.vel_2d * _kp2d(flat(_diff(pred.kp_2d, acc)), flat(_diff(gt2d, acc)),
                                       flat(_diff_conf(conf, acc)), m)
    errv = (flat(_diff(p3, acc)) - flat(_diff(g3, acc))) ** 2
    out["vel_3d"] = cfg.vel_3d * _rows_mean(errv, w3d, m)
    if bool(wsmpl.any()):
        gt_rot = axis_angle_to_rotmat(flat(target["theta"][..., 3:75]).reshape(-1, 24, 3))  # (N, 24, 3, 3)
        out["pose"] = cfg.pose * _rows_mean((flat(pred.rotmat) - gt_rot) ** 2, wsmpl, pm)
        out["shape"] = cfg.shape * _rows_mean((flat(pred.betas) - flat(target["theta"][..., 75:])) ** 2, wsmpl, pm)
    return out


@dataclass
class GLoTLoss:
    """Both branches of a training forward -> ``(total, terms)``; term names ``<term>_global`` and
    ``<term>_local``."""

    cfg: LossConfig = field(default_factory=LossConfig)

    def __call__(self, out: GLoTOutput, target: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Args: out: a training forward (``global_ (B, T, ...)``, ``final (B, 3, ...)``);
        target: batch dict with ``(B, T, ...)`` tensors (see :func:`branch_losses`)."""
        T = out.global_.kp_2d.shape[1]
        mask = out.mask
        kp_mask = mask if (mask is not None and self.cfg.global_mask == "all") else None
        par_mask = mask if (mask is not None and self.cfg.global_mask in ("all", "params")) else None
        terms = {f"{k}_global": v for k, v in branch_losses(out.global_, target, self.cfg, kp_mask, par_mask).items()}
        mid = T // 2
        centre = {k: v[:, mid - 1:mid + 2] for k, v in target.items() if k != "features"}
        terms.update({f"{k}_local": v for k, v in branch_losses(out.final, centre, self.cfg).items()})
        total = torch.stack(list(terms.values())).sum()
        return total, terms


def unfold_chain(batch: Mapping[str, torch.Tensor], seqlen: int) -> dict[str, torch.Tensor]:
    """Cut chained samples ``(B, T + K - 1, ...)`` into ``K`` consecutive windows each:
    ``(B * K, T, ...)`` (window ``k`` of sample ``b`` at row ``b * K + k``, starting at frame ``k``)."""
    out = {}
    for k, v in batch.items():
        B, L = v.shape[:2]
        w = v.unfold(1, seqlen, 1)  # (B, K, *rest, T)
        w = w.movedim(-1, 2)  # (B, K, T, *rest)
        out[k] = w.reshape(B * (L - seqlen + 1), seqlen, *v.shape[2:])
    return out


def chain_losses(final: BodyOutput, chain: Mapping[str, torch.Tensor], cfg: LossConfig) -> dict[str, torch.Tensor]:
    """Cross-window terms of the final branch (weights applied; only the non-zero ones).

    Args:
        final: the final branch on the :func:`unfold_chain` windows of ``chain``: ``(B * K, ...)``
            (inference: the centre frame) or ``(B * K, 3, ...)`` (training: frames ``T//2 - 1 ..
            T//2 + 1``; the middle one is used).
        chain: the chained samples before unfolding: ``kp_2d (B, T + K - 1, 49, 3)``,
            ``kp_3d (B, T + K - 1, 49, 3)``, ``w_3d (B, T + K - 1)``.
    Returns:
        ``{chain_vel_3d, chain_accel_3d, chain_accel_2d}``: mean squared error between predicted and
        true first / second differences of the ``K`` centre frames (3D: 14 LSP joints, pelvis-aligned,
        samples whose centre frames all carry 3D; 2D: confidence of the middle frame).
    """
    B, L = chain["kp_3d"].shape[:2]
    K = final.kp_3d.shape[0] // B
    if K < 3:
        raise ValueError("chain losses need at least 3 consecutive windows")
    T = L - K + 1
    centre = slice(T // 2, T // 2 + K)
    out: dict[str, torch.Tensor] = {}
    kp3, kp2 = (final.kp_3d[:, 1], final.kp_2d[:, 1]) if final.kp_3d.dim() == 4 else (final.kp_3d, final.kp_2d)
    p3 = _pelvis_align(kp3[:, LSP].reshape(B * K, 14, 3)).reshape(B, K, 14, 3)
    g3 = _pelvis_align(chain["kp_3d"][:, centre, LSP, :3].reshape(B * K, 14, 3)).reshape(B, K, 14, 3)
    rows = chain["w_3d"][:, centre].bool().all(1)  # (B,)
    if cfg.chain_vel_3d:
        err = (_diff(p3, False)[:, :-1] - _diff(g3, False)[:, :-1]) ** 2  # (B, K - 1, 14, 3)
        out["chain_vel_3d"] = cfg.chain_vel_3d * _rows_mean(err, rows, None)
    if cfg.chain_accel_3d:
        out["chain_accel_3d"] = cfg.chain_accel_3d * _rows_mean((_diff(p3, True) - _diff(g3, True))[:, 1:-1] ** 2, rows, None)
    if cfg.chain_accel_2d:
        p2 = kp2.reshape(B, K, -1, 2)
        g2, conf = chain["kp_2d"][:, centre, :, :2], chain["kp_2d"][:, centre, :, 2]
        err2 = conf[:, 1:-1, :, None] * (_diff(p2, True) - _diff(g2, True))[:, 1:-1] ** 2
        out["chain_accel_2d"] = cfg.chain_accel_2d * err2.mean()
    return out
