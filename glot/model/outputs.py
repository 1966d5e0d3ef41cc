"""Model outputs as dataclasses, and the shared SMPL head that produces them."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from ..body.smpl import SMPLBody
from ..camera import project_weak_perspective
from ..geometry import rot6d_to_rotmat, rotmat_to_axis_angle

__all__ = ["BodyOutput", "GLoTOutput", "smpl_head"]


@dataclass
class BodyOutput:
    """SMPL estimate of one branch. Leading dims ``(*S)`` are ``(B,)``, ``(B, 1)``, ``(B, 3)`` or
    ``(B, T)`` depending on branch and mode.

    theta: ``(*S, 85)`` = ``[cam (3), axis-angle pose (72), betas (10)]``;
    verts: ``(*S, V, 3)`` (None when not requested); kp_3d: ``(*S, J, 3)`` (J = 49, or 14 with the
    H36M regressor); kp_2d: ``(*S, J, 2)`` normalised crop coordinates; rotmat: ``(*S, 24, 3, 3)``;
    pose6d: ``(*S, 144)``; betas: ``(*S, 10)``; cam: ``(*S, 3)`` crop camera ``(s, tx, ty)``.
    """

    theta: torch.Tensor
    verts: torch.Tensor | None
    kp_2d: torch.Tensor
    kp_3d: torch.Tensor
    rotmat: torch.Tensor
    pose6d: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor

    def reshape(self, *lead: int) -> "BodyOutput":
        """Reshape the flat leading dim ``N`` to ``lead`` (e.g. ``(B, T)``)."""
        kw: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = None if v is None else v.reshape(*lead, *v.shape[1:])
        return BodyOutput(**kw)

    def map(self, fn) -> "BodyOutput":
        """Apply ``fn`` to every tensor (e.g. ``lambda t: t.detach().cpu()``)."""
        return BodyOutput(**{f.name: (None if getattr(self, f.name) is None else fn(getattr(self, f.name)))
                             for f in fields(self)})

    def split(self, sizes: list[int]) -> list["BodyOutput"]:
        """Split along the flat leading dim (inverse of concatenating several heads' inputs)."""
        parts: dict[str, Any] = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name).split(sizes))
                                 for f in fields(self)}
        return [BodyOutput(**{k: (None if v is None else v[i]) for k, v in parts.items()}) for i in range(len(sizes))]

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass
class GLoTOutput:
    """Both branches of one GLoT forward.

    final: the local-corrected (HSCR) estimate of the centre frame: ``(B, ...)`` in eval,
    ``(B, 3, ...)`` (frames T//2-1 .. T//2+1) in training.
    global_: the global branch: ``(B, 1, ...)`` (centre frame) in eval, ``(B, T, ...)`` in training.
    mask: ``(B, T)`` bool, True where a frame was hidden from the global encoder (None: no masking).
    debug: intermediate tensors when requested.
    """

    final: BodyOutput
    global_: BodyOutput
    mask: torch.Tensor | None = None
    debug: dict[str, torch.Tensor] | None = None


def smpl_head(
    body: SMPLBody,
    pose6d: torch.Tensor,
    betas: torch.Tensor,
    cam: torch.Tensor,
    J_regressor: torch.Tensor | None = None,
    need_verts: bool = True,
) -> BodyOutput:
    """Turn regressed parameters into a :class:`BodyOutput` (flat leading dim ``N``).

    Args:
        pose6d: ``(N, 144)``; betas: ``(N, 10)``; cam: ``(N, 3)``.
        J_regressor: optional ``(17, V)`` H36M regressor -> 14 LSP joints.
        need_verts: skip the full mesh when False (joints are still exact).
    """
    n = pose6d.shape[0]
    rotmat = rot6d_to_rotmat(pose6d).view(n, 24, 3, 3)
    posed = body.pose(betas, rotmat, need_verts=need_verts, J_regressor=J_regressor)
    kp_2d = project_weak_perspective(posed.joints, cam)
    aa = rotmat_to_axis_angle(rotmat).reshape(n, 72)
    theta = torch.cat([cam, aa, betas], dim=1)
    return BodyOutput(theta=theta, verts=posed.verts if need_verts else None, kp_2d=kp_2d, kp_3d=posed.joints,
                      rotmat=rotmat, pose6d=pose6d, betas=betas, cam=cam)
