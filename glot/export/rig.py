"""One person's motion and rigged body, shared by the glTF and BVH writers.

Frames. The pipeline's bodies live in GLoT's camera-aligned frame: x right, y *down*, z away from
the camera; a body-frame point ``X`` (``SMPLBody.pose`` output) sits at ``X + transl`` in the
camera. The rest body (SMPL's T-pose) is +y up, facing +z, the subject's left on +x, which is
already glTF's and BVH's convention, so the rest mesh and every child joint's rotation are written
as they are. Only the root changes frame: the exported world is ``C @ camera`` with
``C = diag(1, -1, -1)`` (180 degrees about x, :data:`glot.export.gltf.GLTF_FROM_CAMERA`), so the root's
rotation becomes ``C @ R_root`` and its position ``C @ (J_root + transl)``. The camera sits at the
origin looking along -z with +y up (glTF's camera convention); the person stands upright in front
of it at ``z = -depth``, facing it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from glot.body.joints import SMPL_JOINT_NAMES
from glot.export.gltf import GLTF_FROM_CAMERA

if TYPE_CHECKING:
    from glot.body import SMPLBody

__all__ = ["Motion", "Rig", "build_rig", "hold_indices", "top_weights", "root_world"]


@dataclass
class Motion:
    """One person's motion on one branch.

    Attributes:
        rotmat: ``(N, 24, 3, 3)`` local joint rotations (global orientation first, camera frame).
        betas: ``(10,)`` the person's one shape (e.g. the median of their per-frame betas).
        transl: ``(N, 3)`` camera-frame translation of the body frame, metres (see
            :func:`glot.camera.orig_cam_to_translation`).
        times: ``(N,)`` seconds, strictly increasing (the clip's real timestamps).
        present: ``(N,)`` bool, False where the person was not seen (see :func:`hold_indices`).
    """

    rotmat: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    times: np.ndarray
    present: np.ndarray

    def __post_init__(self) -> None:
        self.rotmat = np.asarray(self.rotmat, dtype=np.float64)
        self.betas = np.asarray(self.betas, dtype=np.float64).reshape(-1)
        self.transl = np.asarray(self.transl, dtype=np.float64)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        self.present = np.asarray(self.present, dtype=bool).reshape(-1)
        n = len(self.rotmat)
        if self.rotmat.ndim != 4 or self.rotmat.shape[2:] != (3, 3) or n == 0:
            raise ValueError(f"motion rotmat must be (N, J, 3, 3) with N >= 1, got {self.rotmat.shape}")
        if self.transl.shape != (n, 3) or self.times.shape != (n,) or self.present.shape != (n,):
            raise ValueError(f"motion of {n} frames needs transl (N, 3), times (N,), present (N,); got "
                             f"{self.transl.shape}, {self.times.shape}, {self.present.shape}")
        if not self.present.any():
            raise ValueError("the person is absent from every frame: there is no motion to export")
        if n > 1 and not np.all(np.diff(self.times) > 0):
            raise ValueError("motion times must be strictly increasing")
        used = self.present
        if not (np.isfinite(self.rotmat[used]).all() and np.isfinite(self.transl[used]).all()
                and np.isfinite(self.times).all() and np.isfinite(self.betas).all()):
            raise ValueError("motion has non-finite values in frames where the person is present")

    @property
    def num_frames(self) -> int:
        return len(self.rotmat)


@dataclass(frozen=True)
class Rig:
    """A body in its rest pose with one person's shape baked in (SMPL rest frame, metres).

    Attributes:
        verts: ``(V, 3)`` rest vertices ``v_template + shapedirs @ betas``.
        faces: ``(F, 3)`` int64.
        joints: ``(J, 3)`` rest joints ``J_regressor @ verts``.
        parents: ``(J,)`` int64 parent of each joint (-1 for the root), from the body's kinematic tree.
        weights: ``(V, J)`` linear-blend-skinning weights.
        names: ``J`` joint names.
    """

    verts: np.ndarray
    faces: np.ndarray
    joints: np.ndarray
    parents: np.ndarray
    weights: np.ndarray
    names: tuple[str, ...]

    @property
    def offsets(self) -> np.ndarray:
        """``(J, 3)`` each joint's rest offset from its parent (the root's: its rest position)."""
        parent_pos = np.where(self.parents[:, None] >= 0, self.joints[np.maximum(self.parents, 0)], 0.0)
        return self.joints - parent_pos


def build_rig(body: SMPLBody, betas: np.ndarray) -> Rig:
    """Bake ``betas`` into ``body``'s rest mesh and joints.

    Args:
        body: a :class:`glot.body.SMPLBody` (or any smplx SMPL layer: ``v_template``, ``shapedirs``,
            ``J_regressor``, ``lbs_weights``, ``parents``, ``faces_tensor``).
        betas: ``(S,)`` shape coefficients (fewer than the body's directions are zero-padded).
    Returns:
        :class:`Rig` in float64; the same ``v_shaped`` and ``J`` as ``SMPLBody.pose``.
    """
    def arr(t) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float64)

    shapedirs = arr(body.shapedirs)  # (V, 3, S)
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    if len(betas) > shapedirs.shape[2]:
        raise ValueError(f"{len(betas)} betas for a body with {shapedirs.shape[2]} shape directions")
    b = np.zeros(shapedirs.shape[2])
    b[:len(betas)] = betas
    verts = arr(body.v_template) + shapedirs @ b  # (V, 3)
    joints = arr(body.J_regressor) @ verts  # (J, 3)
    parents = body.parents.detach().cpu().numpy().astype(np.int64).copy()
    parents[0] = -1
    n = len(parents)
    names = tuple(SMPL_JOINT_NAMES) if n == len(SMPL_JOINT_NAMES) else tuple(f"joint_{j:02d}" for j in range(n))
    faces = body.faces_tensor.detach().cpu().numpy().astype(np.int64)
    return Rig(verts=verts, faces=faces, joints=joints, parents=parents, weights=arr(body.lbs_weights), names=names)


def hold_indices(present: np.ndarray) -> np.ndarray:
    """``(N,)`` bool -> ``(N,)`` int: the frame whose pose each frame shows ("hold the last pose").

    A frame without the person shows the last earlier frame with them; frames before the first
    sighting show the first one.
    """
    present = np.asarray(present, dtype=bool)
    idx = np.where(present, np.arange(len(present)), -1)
    idx = np.maximum.accumulate(idx)
    first = int(np.argmax(present))
    return np.where(idx < 0, first, idx)


def top_weights(weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest skinning weights per vertex (ties: the lower joint index), renormalised.

    Args:
        weights: ``(V, J)`` non-negative weights.
        k: influences kept per vertex (a multiple of 4 for glTF's ``JOINTS_n`` sets).
    Returns:
        ``joints (V, k)`` uint8/uint16 joint indices (largest weight first; unused slots point at
        joint 0 with weight 0) and ``weights (V, k)`` float32 summing to 1 per vertex.
    """
    weights = np.asarray(weights, dtype=np.float64)
    num_joints = weights.shape[1]
    if num_joints < k:
        weights = np.pad(weights, ((0, 0), (0, k - num_joints)))  # padded slots get weight 0
    order = np.argsort(-weights, axis=1, kind="stable")[:, :k]  # (V, k)
    w = np.take_along_axis(weights, order, axis=1)
    w = np.where(w > 0, w, 0.0)
    if (w.sum(1) <= 0).any():
        raise ValueError("some vertices have no positive skinning weight")
    w = w / w.sum(1, keepdims=True)
    order = np.where(w > 0, order, 0)
    w32 = w.astype(np.float32)
    # put the float32 rounding residue on the largest weight so each row sums to 1 in float32 too
    w32[:, 0] += (1.0 - w32.astype(np.float64).sum(1)).astype(np.float32)
    dtype = np.uint8 if num_joints <= 256 else np.uint16
    return order.astype(dtype), w32


def root_world(rig: Rig, motion: Motion, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The root joint's rotation and position in the exported (y-up) world for ``frames``.

    Returns:
        ``rot (K, 3, 3)`` ``= C @ R_root`` and ``pos (K, 3)`` ``= C @ (J_root + transl)``.
    """
    c = GLTF_FROM_CAMERA
    rot = c @ motion.rotmat[frames, 0]
    pos = (rig.joints[0] + motion.transl[frames]) @ c.T
    return rot, pos
