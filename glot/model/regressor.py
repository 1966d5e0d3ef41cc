"""Parameter regressors: SPIN's iterative regressor (global branch) and HSCR (local branch)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..body.files import MeanParams
from ..body.smpl import SMPLBody

__all__ = ["IterativeRegressor", "HSCR", "KTD", "ancestors_from_parents", "NPOSE"]

NPOSE = 24 * 6  # 6D pose of the 24 SMPL joints
NSHAPE = 10
NCAM = 3


class IterativeRegressor(nn.Module):
    """SPIN's iterative error feedback regressor, as GLoT's global branch uses it.

    ``fc1([x, pose, shape, cam]) -> dropout(0.5) -> dec*`` added to the current estimate,
    ``n_iter`` times, starting from the mean parameters. (The official GLoT keeps ``fc2`` in the
    state dict but never calls it.)
    """

    def __init__(self, feature_dim: int, mean: MeanParams, body: SMPLBody, hidden: int = 1024) -> None:
        super().__init__()
        self.register_buffer("init_pose", mean.pose.float().reshape(1, NPOSE).clone())
        self.register_buffer("init_shape", mean.shape.float().reshape(1, NSHAPE).clone())
        self.register_buffer("init_cam", mean.cam.float().reshape(1, NCAM).clone())
        self.fc1 = nn.Linear(feature_dim + NPOSE + NSHAPE + NCAM, hidden)
        self.drop1 = nn.Dropout(0.5)  # official: nn.Dropout() with its default p
        self.fc2 = nn.Linear(hidden, hidden)  # unused (kept for checkpoint compatibility)
        self.drop2 = nn.Dropout(0.5)
        self.decpose = nn.Linear(hidden, NPOSE)
        self.decshape = nn.Linear(hidden, NSHAPE)
        self.deccam = nn.Linear(hidden, NCAM)
        self.smpl = body

    def forward(self, x: torch.Tensor, n_iter: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x: (N, feature_dim)`` -> ``pose6d (N, 144)``, ``betas (N, 10)``, ``cam (N, 3)``."""
        n, f = x.shape
        pose = self.init_pose.expand(n, -1)
        shape = self.init_shape.expand(n, -1)
        cam = self.init_cam.expand(n, -1)
        # fc1([x, pose, shape, cam]) = fc1_x(x) + fc1_p([pose, shape, cam]): the feature part is
        # the same in every iteration, so it is computed once (2/3 of fc1's work saved).
        w = self.fc1.weight
        hx = torch.addmm(self.fc1.bias, x, w[:, :f].t())  # strided views: no weight copies
        w_p = w[:, f:]
        for _ in range(n_iter):
            h = self.drop1(torch.addmm(hx, torch.cat([pose, shape, cam], dim=1), w_p.t()))
            pose = self.decpose(h) + pose
            shape = self.decshape(h) + shape
            cam = self.deccam(h) + cam
        return pose, shape, cam


def ancestors_from_parents(parents: Sequence[int]) -> list[list[int]]:
    """For each joint, its ancestors from the root down (the joint itself excluded)."""
    out = []
    for j in range(len(parents)):
        chain = []
        p = int(parents[j])
        while p >= 0:
            chain.append(p)
            p = int(parents[p])
        out.append(chain[::-1])
    return out


class KTD(nn.Module):
    """Kinematic-tree decoder: joint j's head sees the feature, its ancestors' new 6D outputs
    and a 6-value slice of the global pose estimate.

    ``slice_mode="official"`` reads ``init_pose[..., j:j+6]`` (what the released weights were
    trained with); ``"joint"`` reads the joint's own ``[6j:6j+6]``.
    """

    def __init__(self, parents: Sequence[int], hidden: int = 1024, slice_mode: str = "official") -> None:
        super().__init__()
        self.ancestors = ancestors_from_parents(parents)
        self.slice_mode = slice_mode
        self.joint_regs = nn.ModuleList(nn.Linear(hidden + 6 * len(a) + 6, 6) for a in self.ancestors)
        self.decshape = nn.Linear(hidden, NSHAPE)  # unused (kept for checkpoint compatibility)
        self.deccam = nn.Linear(hidden, NCAM)  # unused

    def forward(self, x: torch.Tensor, init_pose: torch.Tensor) -> torch.Tensor:
        """``x: (..., hidden)``, ``init_pose: (..., 144)`` -> pose correction ``(..., 144)``."""
        outs: list[torch.Tensor] = []
        for j, (anc, reg) in enumerate(zip(self.ancestors, self.joint_regs)):
            start = j if self.slice_mode == "official" else 6 * j
            inp = torch.cat([x] + [outs[a] for a in anc] + [init_pose[..., start:start + 6]], dim=-1)
            outs.append(reg(inp))
        return torch.cat(outs, dim=-1)


class HSCR(nn.Module):
    """Hierarchical SMPL correction regressor: one residual step on the (detached) global estimate.

    ``fc1([f, shape]) -> shape``; ``fc2([f, pose]) -> KTD -> pose``; ``deccam([h_pose, h_shape, cam])``.
    """

    def __init__(self, feature_dim: int, body: SMPLBody, drop: float = 0.25, hidden: int = 1024,
                 slice_mode: str = "official") -> None:
        super().__init__()
        self.fc1 = nn.Linear(feature_dim + NSHAPE, hidden)
        self.fc2 = nn.Linear(feature_dim + NPOSE, hidden)
        self.drop1 = nn.Dropout(drop)
        self.drop2 = nn.Dropout(drop)
        self.decshape = nn.Linear(hidden, NSHAPE)
        self.deccam = nn.Linear(hidden * 2 + NCAM, NCAM)
        self.smpl = body
        self.local_reg = KTD(body.parents.tolist(), hidden, slice_mode)

    def forward(self, x: torch.Tensor, init_pose: torch.Tensor, init_shape: torch.Tensor, init_cam: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x: (B, S, F)``, inits ``(B, S, 144|10|3)`` -> corrected ``(B, S, 144|10|3)``."""
        pose, shape, cam = init_pose.detach(), init_shape.detach(), init_cam.detach()
        h_shape = self.drop1(self.fc1(torch.cat([x, shape], dim=-1)))
        h_pose = self.drop2(self.fc2(torch.cat([x, pose], dim=-1)))
        new_pose = self.local_reg(h_pose, pose) + pose
        new_shape = self.decshape(h_shape) + shape
        new_cam = self.deccam(torch.cat([h_pose, h_shape, cam], dim=-1)) + cam
        return new_pose, new_shape, new_cam
