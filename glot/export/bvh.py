"""BVH of one person's motion (``motion_<branch>[_<id>].bvh``).

The body's joint hierarchy (its kinematic tree, joints named as SMPL's), each joint's ``OFFSET``
its rest offset from its parent in the person's shape; leaves end in an ``End Site`` that extends
the last bone by its own length. World: y up, the person facing +z, the camera at the origin
looking along -z (the frames of :mod:`glot.export.rig`); units metres (``scale=100`` for cm).

Channels: the root has ``Xposition Yposition Zposition Zrotation Xrotation Yrotation`` with
``OFFSET 0 0 0`` (so readers that add the offset to the position channels and readers that replace
it agree: the position channels are the root joint's world position); every other joint
``Zrotation Xrotation Yrotation``. Euler order ZXY, intrinsic, in degrees: a joint's local rotation
is ``Rz(z) @ Rx(x) @ Ry(y)``, the usual BVH (and CMU mocap) convention. One frame per video frame,
``Frame Time`` = 1 / the clip's rate; frames without the person hold the last pose seen.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from glot.export.files import write_atomic
from glot.export.rig import Motion, Rig, build_rig, hold_indices, root_world

if TYPE_CHECKING:
    from glot.body import SMPLBody

__all__ = ["EULER_ORDER", "motion_to_bvh", "write_motion_bvh"]

EULER_ORDER = "ZXY"  # channel order; scipy's upper case = intrinsic rotations


def _dfs(children: list[list[int]], root: int = 0) -> list[int]:
    order, stack = [], [root]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return order


def _hierarchy(rig: Rig, children: list[list[int]], scale: float) -> str:
    out = io.StringIO()
    rot = " ".join(f"{a}rotation" for a in EULER_ORDER)
    offsets = rig.offsets * scale

    def write(j: int, depth: int) -> None:
        pad = "  " * depth
        if j == 0:
            out.write(f"ROOT {rig.names[j]}\n{pad}{{\n{pad}  OFFSET 0.000000 0.000000 0.000000\n")
            out.write(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot}\n")
        else:
            x, y, z = offsets[j]
            out.write(f"{pad}JOINT {rig.names[j]}\n{pad}{{\n{pad}  OFFSET {x:.6f} {y:.6f} {z:.6f}\n")
            out.write(f"{pad}  CHANNELS 3 {rot}\n")
        for c in children[j]:
            write(c, depth + 1)
        if not children[j]:
            x, y, z = offsets[j] if j else (0.0, 0.1 * scale, 0.0)
            out.write(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {x:.6f} {y:.6f} {z:.6f}\n{pad}  }}\n")
        out.write(f"{pad}}}\n")

    write(0, 0)
    return out.getvalue()


def motion_to_bvh(body: SMPLBody, motion: Motion, fps: float, scale: float = 1.0) -> str:
    """BVH text of one person's motion.

    Args:
        body: the body model (:class:`glot.body.SMPLBody`).
        motion: the person's :class:`Motion` on one branch.
        fps: the clip's frame rate (``Frame Time`` = 1 / fps).
        scale: length unit per metre (1: metres, 100: centimetres).
    Returns:
        The file's text (module docstring for the conventions).
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rig = build_rig(body, motion.betas)
    nj = len(rig.parents)
    if motion.rotmat.shape[1] != nj:
        raise ValueError(f"motion has {motion.rotmat.shape[1]} joints, the body {nj}")
    children: list[list[int]] = [[] for _ in range(nj)]
    for j, p in enumerate(rig.parents):
        if p >= 0:
            children[p].append(j)
    order = _dfs(children)  # channel order in the MOTION lines = the order joints appear above

    shown = hold_indices(motion.present)
    rot = motion.rotmat[shown].copy()  # (N, J, 3, 3)
    root_rot, root_pos = root_world(rig, motion, shown)
    rot[:, 0] = root_rot
    n = len(shown)
    euler = Rotation.from_matrix(rot[:, order].reshape(-1, 3, 3)).as_euler(EULER_ORDER, degrees=True)
    values = np.concatenate([root_pos * scale, euler.reshape(n, -1)], axis=1)  # (N, 3 + 3J)

    out = io.StringIO()
    out.write("HIERARCHY\n")
    out.write(_hierarchy(rig, children, scale))
    out.write(f"MOTION\nFrames: {n}\nFrame Time: {1.0 / fps:.8f}\n")
    np.savetxt(out, values, fmt="%.6f", delimiter=" ")
    return out.getvalue()


def write_motion_bvh(path: str | os.PathLike, body: SMPLBody, motion: Motion, fps: float,
                     scale: float = 1.0) -> Path:
    """Write :func:`motion_to_bvh` to ``path`` (e.g. ``motion_final.bvh``)."""
    return write_atomic(path, motion_to_bvh(body, motion, fps, scale=scale).encode())
