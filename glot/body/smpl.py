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
from smplx.utils import Struct
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from .joints import EXTRA_VERTEX_NAMES, H36M_TO_J14, SPIN_JOINT_MAP

__all__ = ["BodyJoints", "SMPLBody", "DerivedCache", "tensor_key"]

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
        from .files import read_array_file, read_smpl_file

        return cls(read_smpl_file(smpl_path), read_array_file(extra_regressor_path), vertex_ids=vertex_ids)

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

        Same maths as smplx's ``lbs`` (checked against it in the tests), arranged for speed: the
        rest joints come from shape-space regressors ``J_regressor @ shapedirs`` computed once,
        the kinematic chain is composed by pointer jumping (4 batched products for SMPL's depth
        of 8 instead of 23 sequential ones), and without a mesh only the vertices the 49 joints
        read are blended and skinned.
        """
        d = self._derived()
        n = rotmat.shape[0]
        dtype = d.j_template.dtype
        betas = betas.to(dtype)
        rotmat = rotmat.to(dtype)
        J = torch.addmm(d.j_template, betas, d.j_dirs).view(n, -1, 3)  # (N, 24, 3) rest joints
        pose_feature = (rotmat[:, 1:] - d.eye3).reshape(n, -1)  # (N, 207)
        posed_joints, A = _rigid_transforms(rotmat, J, d.jump, d.eye4)  # (N, 24, 3), (N, 24, 3, 4)

        if not need_verts and J_regressor is None and d.sub is not None:
            sub = d.sub
            v = torch.addmm(sub.v_template, betas, sub.shapedirs)  # (N, K*3)
            if sub.posedirs is not None:
                v = torch.addmm(v, pose_feature, sub.posedirs)
            vs = _blend_transforms(v.view(n, -1, 3), A, sub.weights_t)  # (N, K, 3)
            extra_v = vs[:, :sub.n_sel]
            extra_r = torch.matmul(sub.extra, vs[:, sub.n_sel:])
            verts = None
        else:
            v = torch.addmm(d.v_template, betas, d.shapedirs)  # (N, V*3)
            if d.posedirs is not None:
                v = _addmm_columns(v, pose_feature, d.posedirs)
            verts = _blend_transforms(v.view(n, -1, 3), A, d.weights_t)  # (N, V, 3)
            extra_v = verts[:, self.vertex_joint_selector.extra_joints_idxs]
            extra_r = torch.matmul(d.extra, verts[:, d.extra_support])

        if J_regressor is not None:
            joints = torch.matmul(J_regressor.to(dtype), verts)[:, self.h36m_to_j14]
        else:
            joints = torch.cat([posed_joints, extra_v, extra_r], dim=1)[:, self.spin_joint_map]
        return BodyJoints(verts=verts if need_verts or J_regressor is not None else None, joints=joints)

    @staticmethod
    def _skin(v_shaped: torch.Tensor, pose_feature: torch.Tensor, A: torch.Tensor,
              posedirs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Linear blend skinning of ``v_shaped (N, V, 3)`` with joint transforms ``A (N, 24, 4|3, 4)``,
        pose blend shapes ``posedirs (207, V*3)`` and skinning ``weights (V, 24)`` (smplx's ``lbs``)."""
        n, v = v_shaped.shape[:2]
        v_posed = v_shaped + torch.matmul(pose_feature, posedirs).view(n, v, 3)
        return _blend_transforms(v_posed, A[:, :, :3], weights.t().contiguous())

    # ------------------------------------------------------------------ derived tensors
    def _derived(self) -> "_Derived":
        """Tensors derived from the buffers (shape-space joint regressors, layouts, the joint
        vertex subset), rebuilt whenever a buffer changes (load_state_dict, .to(), in-place edits)."""
        sources = (self.v_template, self.shapedirs, self.posedirs, self.J_regressor, self.lbs_weights,
                   self.J_regressor_extra, self.vertex_joint_selector.extra_joints_idxs, self.parents)
        key = tuple(tensor_key(t) for t in sources)
        cache = DerivedCache.of(self)
        cached = cache.get("pose")
        if cached is not None and cached.key == key:
            return cached
        with torch.inference_mode(False), torch.no_grad():  # usable inside and outside inference mode
            cached = cache["pose"] = _Derived.build(self, key)
        return cached

    def _joint_vertex_subset(self) -> tuple[torch.Tensor, int] | None:
        """Vertices the 49 joints depend on: the 21 selected ones, then the support of
        ``J_regressor_extra``. None when that support is most of the mesh."""
        sel = self.vertex_joint_selector.extra_joints_idxs
        support = torch.nonzero(self.J_regressor_extra.abs().sum(0) > 0).flatten()
        if support.numel() > 0.5 * self.num_verts:
            return None
        return torch.cat([sel, support]), int(sel.numel())


class DerivedCache(dict):
    """A dict of tensors derived from a module's weights, kept on the module but never copied
    with it: ``copy.deepcopy`` and pickling give an empty cache (it is rebuilt on first use)."""

    def __deepcopy__(self, memo) -> "DerivedCache":
        return DerivedCache()

    def __reduce__(self):
        return (DerivedCache, ())

    @staticmethod
    def of(module: torch.nn.Module) -> "DerivedCache":
        cache = module.__dict__.get("_derived_cache")
        if cache is None:  # setdefault: two threads asking at once get the same cache
            cache = module.__dict__.setdefault("_derived_cache", DerivedCache())
        return cache


def tensor_key(t: torch.Tensor) -> tuple:
    """Identity of a tensor's current content: storage, version counter, dtype and device
    (inference tensors have no version counter; they cannot be modified in place outside
    inference mode, so their storage identifies them)."""
    try:
        version = t._version
    except RuntimeError:
        version = -1
    return (t.data_ptr(), version, t.dtype, t.device, tuple(t.shape))


@dataclass
class _Subset:
    """The vertices the 49 joints read (the 21 selected ones first, then the support of
    ``J_regressor_extra``), with their slices of the body's buffers."""

    n_sel: int
    v_template: torch.Tensor  # (1, K*3)
    shapedirs: torch.Tensor  # (S, K*3)
    posedirs: torch.Tensor | None  # (207, K*3); None when all zero
    weights_t: torch.Tensor  # (24, K)
    extra: torch.Tensor  # (9, K - n_sel)


@dataclass
class _Derived:
    key: tuple
    j_template: torch.Tensor  # (1, 72): J_regressor @ v_template
    j_dirs: torch.Tensor  # (S, 72): J_regressor @ shapedirs
    v_template: torch.Tensor  # (1, V*3)
    shapedirs: torch.Tensor  # (S, V*3)
    posedirs: torch.Tensor | None  # (207, V*3); None when all zero (e.g. the open body)
    weights_t: torch.Tensor  # (24, V)
    extra: torch.Tensor  # (9, E) J_regressor_extra on its support
    extra_support: torch.Tensor  # (E,)
    jump: list[torch.Tensor]  # pointer-jumping parent tables (see _rigid_transforms)
    sub: _Subset | None
    eye3: torch.Tensor
    eye4: torch.Tensor

    @classmethod
    def build(cls, body: SMPLBody, key: tuple) -> "_Derived":
        nv = body.num_verts
        dtype = body.v_template.dtype
        sd = body.shapedirs  # (V, 3, S)
        jr = body.J_regressor.to(dtype)  # (24, V)
        j_template = (jr @ body.v_template).reshape(1, -1)
        j_dirs = torch.einsum("jv,vks->sjk", jr, sd).reshape(sd.shape[-1], -1)
        shapedirs = sd.permute(2, 0, 1).reshape(sd.shape[-1], -1).contiguous()
        # smplx keeps posedirs as a transposed view; row-major is 3-4x faster for a few meshes
        posedirs = body.posedirs.contiguous() if bool(body.posedirs.any()) else None
        extra_support = torch.nonzero(body.J_regressor_extra.abs().sum(0) > 0).flatten()
        sub = None
        subset = body._joint_vertex_subset()
        if subset is not None:
            idx, n_sel = subset
            cols = (idx[:, None] * 3 + torch.arange(3, device=idx.device)).flatten()
            sub = _Subset(
                n_sel=n_sel,
                v_template=body.v_template[idx].reshape(1, -1),
                shapedirs=shapedirs[:, cols].contiguous(),
                posedirs=None if posedirs is None else posedirs[:, cols].contiguous(),
                weights_t=body.lbs_weights[idx].t().contiguous(),
                extra=body.J_regressor_extra[:, idx[n_sel:]].contiguous(),
            )
        return cls(key=key, j_template=j_template, j_dirs=j_dirs.contiguous(),
                   v_template=body.v_template.reshape(1, nv * 3),
                   shapedirs=shapedirs, posedirs=posedirs, weights_t=body.lbs_weights.t().contiguous(),
                   extra=body.J_regressor_extra[:, extra_support].contiguous(), extra_support=extra_support,
                   jump=_jump_tables(body.parents), sub=sub,
                   eye3=torch.eye(3, dtype=dtype, device=body.v_template.device),
                   eye4=torch.eye(4, dtype=dtype, device=body.v_template.device))


def _jump_tables(parents: torch.Tensor) -> list[torch.Tensor]:
    """Parent tables for pointer jumping over the kinematic tree of ``J`` joints plus an identity
    slot ``J`` (the root's parent, its own parent): table ``k`` maps each slot to its ``2**k``-th
    ancestor. As many tables as the deepest chain needs (4 for SMPL's chains of 9 joints)."""
    par = [int(p) for p in parents.tolist()]
    nj = len(par)
    for j, p in enumerate(par):
        if p >= j:
            raise ValueError(f"joint {j}'s parent {p} does not precede it (kinematic tree out of order)")
    up = [p if p >= 0 else nj for p in par] + [nj]
    depth = [0] * nj
    for j, p in enumerate(par):
        depth[j] = depth[p] + 1 if p >= 0 else 1
    tables, reach = [], 1
    while reach < max(depth, default=1):
        tables.append(torch.tensor(up, dtype=torch.long, device=parents.device))
        up = [up[u] for u in up]
        reach *= 2
    return tables


def _rigid_transforms(rotmat: torch.Tensor, joints: torch.Tensor, jump: list[torch.Tensor], eye4: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """smplx's ``batch_rigid_transform``: world transforms of the kinematic chain.

    Args:
        rotmat: ``(N, J, 3, 3)`` local rotations; joints: ``(N, J, 3)`` rest joints.
        jump: :func:`_jump_tables` of the tree; eye4: ``(4, 4)`` identity.
    Returns:
        posed joints ``(N, J, 3)`` and the skinning transforms ``(N, J, 3, 4)`` (rest pose removed).
    """
    n, nj = joints.shape[:2]
    rel = joints.clone()
    if jump:
        rel[:, 1:] -= joints[:, jump[0][1:nj]]  # relative to the parent (the root stays absolute)
    bottom = eye4[3:].expand(n, nj, 1, 4)
    G = torch.cat([torch.cat([rotmat, rel[..., None]], dim=-1), bottom], dim=2)  # (N, J, 4, 4) local
    G = torch.cat([G, eye4.expand(n, 1, 4, 4)], dim=1)  # + the identity slot
    for table in jump:  # G[j] <- G[up_k(j)] @ G[j]: chains of 2, 4, 8, ... joints
        G = torch.matmul(G[:, table], G)
    R, t = G[:, :nj, :3, :3], G[:, :nj, :3, 3:]
    A = torch.cat([R, t - torch.matmul(R, joints[..., None])], dim=-1)  # (N, J, 3, 4)
    return t[..., 0], A


def _addmm_columns(v: torch.Tensor, a: torch.Tensor, b: torch.Tensor, cols: int = 2048) -> torch.Tensor:
    """``v + a @ b`` for a wide ``b (K, C)``, in column blocks when ``a`` has many rows (the
    output block and ``b``'s block stay in cache: twice as fast for 128 meshes)."""
    if a.shape[0] < 16 or (torch.is_grad_enabled() and (v.requires_grad or a.requires_grad)) \
            or torch.is_autocast_enabled(v.device.type):
        return torch.addmm(v, a, b)
    out = torch.empty_like(v)
    for s in range(0, b.shape[1], cols):
        torch.addmm(v[:, s:s + cols], a, b[:, s:s + cols], out=out[:, s:s + cols])
    return out


def _blend_transforms(v_posed: torch.Tensor, A: torch.Tensor, weights_t: torch.Tensor, rows: int = 2) -> torch.Tensor:
    """Skin ``v_posed (N, V, 3)`` with ``A (N, 24, 3, 4)`` blended by ``weights_t (24, V)``.

    The 24 transforms are blended by one GEMM ``(n*12, 24) @ (24, V)`` and applied component-wise
    on contiguous ``(n, 3, V)`` rows, ``rows * 6890`` vertices at a time so the blended transforms
    stay in cache (2.6x faster than one pass for 128 full meshes).
    """
    n, v = v_posed.shape[:2]
    j = weights_t.shape[0]
    p = v_posed.transpose(1, 2)  # (N, 3, V)
    A12 = A.permute(0, 2, 3, 1).reshape(n, 12, j)
    if (torch.is_grad_enabled() and (v_posed.requires_grad or A.requires_grad)) \
            or torch.is_autocast_enabled(v_posed.device.type):
        step, out = n, None  # autograd or autocast: one pass, no out= writes
    else:
        step = max(1, rows * 6890 // v)  # meshes per chunk: ~rows full SMPL meshes' worth of vertices
        out = v_posed.new_empty(n, 3, v)
    for s in range(0, n, step):
        e = min(s + step, n)
        T = torch.matmul(A12[s:e].reshape(-1, j), weights_t).view(e - s, 3, 4, v)  # (n, 3, 4, V)
        o = torch.addcmul(T[:, :, 3], T[:, :, 0], p[s:e, None, 0], out=None if out is None else out[s:e])
        o = o.addcmul_(T[:, :, 1], p[s:e, None, 1]).addcmul_(T[:, :, 2], p[s:e, None, 2])
    return (o if out is None else out).transpose(1, 2)  # (N, V, 3)
