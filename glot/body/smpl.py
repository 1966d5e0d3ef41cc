"""The SMPL body: smplx's SMPL layer plus SPIN's 49-joint set (the one wrapper of smplx).

State-dict names equal the official GLoT ``*.smpl.*`` entries (``v_template``, ``shapedirs``,
``J_regressor``, ``posedirs``, ``parents``, ``lbs_weights``, ``J_regressor_extra``,
``vertex_joint_selector.extra_joints_idxs``, smplx's unused ``betas/global_orient/body_pose`` and
``faces_tensor``), so official checkpoints load into it strictly.
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import smplx
import torch
from smplx.lbs import batch_rigid_transform, blend_shapes, vertices2joints
from smplx.utils import Struct
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from .joints import EXTRA_VERTEX_NAMES, H36M_TO_J14, SPIN_JOINT_MAP

__all__ = ["BodyJoints", "SMPLBody"]

_OFFICIAL_BATCH = 64  # smplx's default-parameter batch in the official checkpoints


@dataclass
class BodyJoints:
    """Output of :meth:`SMPLBody.pose`.

    verts: ``(N, V, 3)`` or ``None`` when not asked for; joints: ``(N, J, 3)`` (49 SPIN joints, or
    14 LSP joints when an H36M regressor is given).
    """

    verts: torch.Tensor | None
    joints: torch.Tensor


class SMPLBody(smplx.SMPL):
    """SMPL layer with SPIN's extra joints.

    Args:
        arrays: SMPL file content (``v_template (V,3)``, ``shapedirs (V,3,S)``, ``posedirs (V,3,207)``,
            ``J_regressor (24,V)``, ``weights (V,24)``, ``kintree_table (2,24)``, ``f (F,3)``).
        J_regressor_extra: ``(9, V)`` SPIN's extra-joint regressor.
        vertex_ids: the 21 extra-vertex joint ids by name (defaults to real SMPL's, from smplx).
    """

    def __init__(
        self,
        arrays: Mapping[str, Any],
        J_regressor_extra: Any,
        vertex_ids: Mapping[str, int] | None = None,
        batch_size: int = _OFFICIAL_BATCH,
    ) -> None:
        data = {k: np.asarray(v) for k, v in arrays.items() if k in
                ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
        data["f"] = data["f"].astype(np.int64)
        ids = dict(vertex_ids) if vertex_ids is not None else dict(SMPLX_VERTEX_IDS["smplh"])
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note about 10 betas
            super().__init__(
            model_path="",
            data_struct=Struct(**data),
            create_transl=False,
            batch_size=batch_size,
            vertex_ids=ids,
            )
        jre = torch.as_tensor(np.asarray(J_regressor_extra), dtype=torch.float32)
        self.register_buffer("J_regressor_extra", jre)
        self.register_buffer("spin_joint_map", torch.tensor(SPIN_JOINT_MAP, dtype=torch.long), persistent=False)
        self.register_buffer("h36m_to_j14", torch.tensor(H36M_TO_J14, dtype=torch.long), persistent=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_files(
        cls,
        smpl_path: str | os.PathLike,
        extra_regressor_path: str | os.PathLike,
        vertex_ids: Mapping[str, int] | None = None,
    ) -> "SMPLBody":
        from .files import read_smpl_file

        return cls(read_smpl_file(smpl_path), np.load(extra_regressor_path), vertex_ids=vertex_ids)

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor], prefix: str = "") -> "SMPLBody":
        """Rebuild the body from the buffers an official checkpoint carries (``prefix`` + names)."""

        def g(name: str) -> np.ndarray:
            return sd[prefix + name].detach().cpu().numpy()

        posedirs = g("posedirs")  # (207, 3V) smplx layout -> (V, 3, 207) file layout
        nv = g("v_template").shape[0]
        parents = g("parents").astype(np.int64)
        kintree = np.stack([parents, np.arange(len(parents))])
        kintree[0, 0] = 4294967295
        arrays = {
            "v_template": g("v_template"),
            "shapedirs": g("shapedirs"),
            "posedirs": posedirs.T.reshape(nv, 3, -1),
            "J_regressor": g("J_regressor"),
            "weights": g("lbs_weights"),
            "kintree_table": kintree,
            "f": g("faces_tensor") if prefix + "faces_tensor" in sd else np.zeros((0, 3), np.int64),
        }
        idxs = g("vertex_joint_selector.extra_joints_idxs")
        ids = {name: int(i) for name, i in zip(EXTRA_VERTEX_NAMES, idxs)}
        body = cls(arrays, g("J_regressor_extra"), vertex_ids=ids)
        # exact copies (the file-layout round trip above is lossless, but be strict)
        own = body.state_dict()
        body.load_state_dict({k: sd[prefix + k] if prefix + k in sd else v for k, v in own.items()}, strict=True)
        return body

    # ------------------------------------------------------------------ forward
    @property
    def num_verts(self) -> int:
        return int(self.v_template.shape[0])

    def pose(
        self,
        betas: torch.Tensor,
        rotmat: torch.Tensor,
        need_verts: bool = True,
        J_regressor: torch.Tensor | None = None,
    ) -> BodyJoints:
        """Pose the body.

        Args:
            betas: ``(N, 10)`` shape coefficients.
            rotmat: ``(N, 24, 3, 3)`` joint rotations (global orientation first).
            need_verts: return vertices; when False and no ``J_regressor`` is given, only the
                vertices the joints need are skinned (much cheaper).
            J_regressor: optional ``(17, V)`` H36M regressor; joints are then the 14 LSP joints
                ``(J @ verts)[:, H36M_TO_J14]``.
        Returns:
            :class:`BodyJoints` with ``verts (N, V, 3)`` (or None) and ``joints (N, 49|14, 3)``.
        """
        n = rotmat.shape[0]
        dtype = self.v_template.dtype
        betas = betas.to(dtype)
        rotmat = rotmat.to(dtype)
        v_shaped = self.v_template + blend_shapes(betas, self.shapedirs)  # (N, V, 3)
        J = vertices2joints(self.J_regressor, v_shaped)  # (N, 24, 3)
        ident = torch.eye(3, dtype=dtype, device=rotmat.device)
        pose_feature = (rotmat[:, 1:] - ident).reshape(n, -1)  # (N, 207)
        J_transformed, A = batch_rigid_transform(rotmat, J, self.parents, dtype=dtype)

        subset = None
        if not need_verts and J_regressor is None:
            subset = self._joint_vertex_subset()
        if subset is None:
            verts = self._skin(v_shaped, pose_feature, A, self.posedirs, self.lbs_weights)
            extra_v = verts[:, self.vertex_joint_selector.extra_joints_idxs]
            extra_r = vertices2joints(self.J_regressor_extra, verts)
        else:
            idx, n_sel = subset
            posedirs = self.posedirs.view(self.posedirs.shape[0], -1, 3)[:, idx].reshape(self.posedirs.shape[0], -1)
            vs = self._skin(v_shaped[:, idx], pose_feature, A, posedirs, self.lbs_weights[idx])
            extra_v = vs[:, :n_sel]
            extra_r = vertices2joints(self.J_regressor_extra[:, idx[n_sel:]], vs[:, n_sel:])
            verts = None

        if J_regressor is not None:
            joints = vertices2joints(J_regressor.to(dtype), verts)[:, self.h36m_to_j14]
        else:
            joints = torch.cat([J_transformed, extra_v, extra_r], dim=1)[:, self.spin_joint_map]
        return BodyJoints(verts=verts if need_verts or J_regressor is not None else None, joints=joints)

    @staticmethod
    def _skin(v_shaped: torch.Tensor, pose_feature: torch.Tensor, A: torch.Tensor,
              posedirs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Linear blend skinning of ``v_shaped (N, V, 3)`` with joint transforms ``A (N, 24, 4, 4)``.

        Same maths as smplx's ``lbs``, laid out for speed: the 24 transforms are blended by one
        GEMM ``(N*12, 24) @ (24, V)`` with the shared weights, and applied component-wise on
        contiguous ``(N, 3, V)`` rows instead of V tiny 4x4 products.
        """
        n, v = v_shaped.shape[:2]
        j = weights.shape[1]
        v_posed = v_shaped + torch.matmul(pose_feature, posedirs).view(n, v, 3)
        A12 = A[:, :, :3, :].permute(0, 2, 3, 1).reshape(n * 12, j)  # (N*12, 24)
        T = torch.matmul(A12, weights.t().contiguous()).view(n, 3, 4, v)  # (N, 3, 4, V)
        p = v_posed.transpose(1, 2)  # (N, 3, V)
        out = torch.addcmul(T[:, :, 3], T[:, :, 0], p[:, None, 0])
        out.addcmul_(T[:, :, 1], p[:, None, 1]).addcmul_(T[:, :, 2], p[:, None, 2])
        return out.transpose(1, 2)  # (N, V, 3)

    def _joint_vertex_subset(self) -> tuple[torch.Tensor, int] | None:
        """Vertices the 49 joints depend on: the 21 selected ones, then the support of
        ``J_regressor_extra``. None when that support is most of the mesh."""
        sel = self.vertex_joint_selector.extra_joints_idxs
        support = torch.nonzero(self.J_regressor_extra.abs().sum(0) > 0).flatten()
        if support.numel() > 0.5 * self.num_verts:
            return None
        return torch.cat([sel, support]), int(sel.numel())
