"""Rotation conversions used everywhere in the project (the one implementation).

Conventions follow the official GLoT/SPIN code:

* 6D rotation: a 6-vector ``x`` is read as a (3, 2) matrix (row-major); its two columns
  ``(x0, x2, x4)`` and ``(x1, x3, x5)`` are Gram-Schmidt orthonormalised into the first two
  columns of the rotation matrix. Identity = ``[1, 0, 0, 1, 0, 0]``.
* axis-angle: rotation vector (axis * angle, radians).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "rot6d_to_rotmat",
    "rotmat_to_rot6d",
    "rotmat_to_quaternion",
    "quaternion_to_axis_angle",
    "rotmat_to_axis_angle",
    "axis_angle_to_rotmat",
]


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D representation -> rotation matrices.

    Args:
        x: ``(..., 6)`` or ``(N, 6K)``; every consecutive 6 values form one rotation.
    Returns:
        ``(M, 3, 3)`` with ``M = x.numel() // 6`` (flattened, as the official code returns).
    """
    m = x.reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = F.normalize(a1, dim=1, eps=1e-6)
    b2 = F.normalize(a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1, dim=1, eps=1e-6)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> 6D ``(..., 6)`` (first two columns, row-major)."""
    return rotmat[..., :, :2].reshape(*rotmat.shape[:-2], 6)


def rotmat_to_quaternion(rotmat: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Rotation matrices ``(N, 3, 3)`` -> quaternions ``(N, 4)`` as ``(w, x, y, z)``.

    Shepperd-style: the largest of four candidate denominators is chosen by the same case
    split as the official code (z-diagonal sign first, then x vs y), so rotations near 180
    degrees get the same axis sign as the official outputs.
    """
    r = rotmat.transpose(1, 2)  # the official code works on the transpose
    r00, r01, r02 = r[:, 0, 0], r[:, 0, 1], r[:, 0, 2]
    r10, r11, r12 = r[:, 1, 0], r[:, 1, 1], r[:, 1, 2]
    r20, r21, r22 = r[:, 2, 0], r[:, 2, 1], r[:, 2, 2]

    t0 = 1 + r00 - r11 - r22
    t1 = 1 - r00 + r11 - r22
    t2 = 1 - r00 - r11 + r22
    t3 = 1 + r00 + r11 + r22
    cand = torch.stack(
        [
            torch.stack([r12 - r21, t0, r01 + r10, r20 + r02], -1),
            torch.stack([r20 - r02, r01 + r10, t1, r12 + r21], -1),
            torch.stack([r01 - r10, r20 + r02, r12 + r21, t2], -1),
            torch.stack([t3, r12 - r21, r20 - r02, r01 - r10], -1),
        ],
        dim=1,
    )  # (N, 4 cases, 4)
    t = torch.stack([t0, t1, t2, t3], dim=1)  # (N, 4 cases)

    z_small = r22 < eps
    case = torch.where(
        z_small,
        torch.where(r00 > r11, 0, 1),
        torch.where(r00 < -r11, 2, 3),
    )
    q = cand.gather(1, case[:, None, None].expand(-1, 1, 4))[:, 0]
    tc = t.gather(1, case[:, None])
    return q * (0.5 / torch.sqrt(tc))


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """Quaternions ``(..., 4)`` (w, x, y, z) -> axis-angle ``(..., 3)``.

    The angle is taken in [-pi, pi] via the sign of ``w`` (shortest rotation).
    """
    w, v = q[..., 0], q[..., 1:]
    sin_sq = (v * v).sum(-1)
    sin = torch.sqrt(sin_sq)
    two_theta = 2.0 * torch.where(w < 0.0, torch.atan2(-sin, -w), torch.atan2(sin, w))
    k = torch.where(sin_sq > 0.0, two_theta / sin, torch.full_like(sin, 2.0))
    return v * k[..., None]


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> axis-angle ``(..., 3)``; NaN results become 0."""
    shape = rotmat.shape[:-2]
    aa = quaternion_to_axis_angle(rotmat_to_quaternion(rotmat.reshape(-1, 3, 3)))
    aa = torch.nan_to_num(aa, nan=0.0)
    return aa.reshape(*shape, 3)


def axis_angle_to_rotmat(aa: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` -> rotation matrices ``(..., 3, 3)`` (Rodrigues, as smplx)."""
    shape = aa.shape[:-1]
    v = aa.reshape(-1, 3)
    angle = torch.norm(v + eps, dim=1, keepdim=True)
    axis = v / angle
    cos = torch.cos(angle)[:, :, None]
    sin = torch.sin(angle)[:, :, None]
    x, y, z = axis[:, 0], axis[:, 1], axis[:, 2]
    zeros = torch.zeros_like(x)
    K = torch.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], dim=1).view(-1, 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)[None]
    R = eye + sin * K + (1 - cos) * torch.bmm(K, K)
    return R.reshape(*shape, 3, 3)
