"""The skinned, animated glTF of one person's motion (``motion_<branch>[_<id>].glb``).

Contents: the body mesh in the person's shape (betas baked into the rest mesh, rest-pose normals),
a skin over the body's joints (its kinematic tree, rest joints from the person's shape, inverse bind
matrices), the ``k`` largest skinning weights per vertex renormalised (4 by default: what every
viewer supports; 8 reproduces a body with up to 8 influences exactly), one animation with a
rotation keyframe per frame for every joint and the root's translation (LINEAR interpolation), a
matte material in the branch colour, and optionally a perspective camera at the origin matching
the video's view. Frames: see :mod:`glot.export.rig`. glTF skinning is linear blend skinning
without pose blend shapes: exact for a body whose pose correctives are zero (the open body) when
every influence is kept.

Frames without the person (``missing``): ``"hold"`` (default) keeps the last pose seen (the first
one before the person appears); ``"hide"`` also holds it but scales the skeleton to zero there
with a STEP scale track on the root, so the body disappears.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from glot.export.files import write_atomic
from glot.export.gltf import (ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GENERATOR, BinBuilder, pack_glb,
                              pbr_material)
from glot.export.rig import Motion, Rig, build_rig, hold_indices, root_world, top_weights
from glot.render.colors import FINAL_COLOR, Color
from glot.render.mesh_renderer import vertex_normals

if TYPE_CHECKING:
    from glot.body import SMPLBody

__all__ = ["CameraView", "motion_to_glb", "write_motion_glb", "joint_quaternions"]


@dataclass(frozen=True)
class CameraView:
    """The pinhole camera the motion was placed for: focal length in pixels, image size.

    Written as a glTF perspective camera at the origin (looking along -z, +y up) with
    ``yfov = 2 atan(height / (2 focal))`` and ``aspectRatio = width / height``.
    """

    focal_length: float
    width: int
    height: int

    def gltf(self) -> dict:
        yfov = 2.0 * float(np.arctan(self.height / (2.0 * self.focal_length)))
        return {"type": "perspective", "name": "video camera",
                "perspective": {"yfov": yfov, "aspectRatio": self.width / self.height, "znear": 0.01}}


def joint_quaternions(rig: Rig, motion: Motion, frames: np.ndarray) -> np.ndarray:
    """Exported local rotations as unit quaternions ``(K, J, 4)`` ``(x, y, z, w)`` (glTF's order).

    The root's rotation is moved to the y-up world (:func:`glot.export.rig.root_world`); signs
    are chosen so consecutive keys lie in one hemisphere (interpolation takes the short way).
    """
    rot = motion.rotmat[frames].copy()  # (K, J, 3, 3)
    rot[:, 0] = root_world(rig, motion, frames)[0]
    k, j = rot.shape[:2]
    q = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat().reshape(k, j, 4)
    if k > 1:
        flip = np.sign(np.einsum("kjc,kjc->kj", q[1:], q[:-1]))  # (K-1, J)
        flip[flip == 0] = 1.0
        q[1:] *= np.cumprod(flip, axis=0)[..., None]
    return q


def motion_to_glb(body: SMPLBody, motion: Motion, color: Color = FINAL_COLOR, name: str = "person",
                  camera: CameraView | None = None, influences: int = 4, missing: str = "hold",
                  copyright: str | None = None) -> bytes:
    """GLB bytes of one person's skinned, animated body.

    Args:
        body: the body model (:class:`glot.body.SMPLBody`).
        motion: the person's :class:`Motion` on one branch.
        color: material colour (the branch colour, :mod:`glot.render.colors`).
        name: name of the armature node, the animation and the material (e.g. ``"final"``).
        camera: the camera the translation was computed for, written as a glTF camera.
        influences: skinning weights kept per vertex, 4 or 8 (largest first, renormalised).
        missing: ``"hold"`` or ``"hide"`` for frames without the person (module docstring).
        copyright: the file's licence notice (:mod:`glot.export.notices`), in ``asset.copyright``.
    Returns:
        GLB bytes.
    """
    if influences not in (4, 8):
        raise ValueError(f"influences must be 4 or 8, got {influences}")
    if missing not in ("hold", "hide"):
        raise ValueError(f"missing must be 'hold' or 'hide', got {missing!r}")
    rig = build_rig(body, motion.betas)
    nj = len(rig.parents)
    if motion.rotmat.shape[1] != nj:
        raise ValueError(f"motion has {motion.rotmat.shape[1]} joints, the body {nj}")
    b = BinBuilder()

    # --- mesh: rest vertices in the person's shape, rest normals, skin attributes
    verts = rig.verts.astype(np.float32)
    normals = vertex_normals(rig.verts, rig.faces)
    normals[np.linalg.norm(normals, axis=1) < 0.5] = (0.0, 0.0, 1.0)  # vertices on no face: any unit vector
    joints, weights = top_weights(rig.weights, influences)
    index_dtype = np.uint16 if len(verts) <= 65535 else np.uint32
    attrs = {"POSITION": b.add(verts, "VEC3", ARRAY_BUFFER, minmax=True),
             "NORMAL": b.add(normals.astype(np.float32), "VEC3", ARRAY_BUFFER)}
    for s in range(influences // 4):
        attrs[f"JOINTS_{s}"] = b.add(np.ascontiguousarray(joints[:, 4 * s:4 * s + 4]), "VEC4", ARRAY_BUFFER)
        attrs[f"WEIGHTS_{s}"] = b.add(np.ascontiguousarray(weights[:, 4 * s:4 * s + 4]), "VEC4", ARRAY_BUFFER)
    indices = b.add(rig.faces.astype(index_dtype).reshape(-1), "SCALAR", ELEMENT_ARRAY_BUFFER)

    # --- skeleton: joint nodes in the bind pose (identity rotations, rest offsets)
    children: list[list[int]] = [[] for _ in range(nj)]
    for j, p in enumerate(rig.parents):
        if p >= 0:
            children[p].append(j)
    nodes: list[dict] = []
    for j in range(nj):
        node = {"name": rig.names[j], "translation": rig.offsets[j].tolist()}
        if children[j]:
            node["children"] = children[j]
        nodes.append(node)
    ibm = np.tile(np.eye(4, dtype=np.float32), (nj, 1, 1))
    ibm[:, :3, 3] = -rig.joints  # bind pose has no rotation: inverse bind = translate(-rest joint)
    mesh_node, armature_node = nj, nj + 1
    nodes.append({"name": f"{name}_body", "mesh": 0, "skin": 0})
    nodes.append({"name": name, "children": [0]})
    scene_nodes = [armature_node, mesh_node]
    cameras = []
    if camera is not None:
        cameras.append(camera.gltf())
        nodes.append({"name": "camera", "camera": 0})
        scene_nodes.append(len(nodes) - 1)

    # --- animation: every joint's rotation and the root's translation at every frame
    shown = hold_indices(motion.present)  # (N,) the frame whose pose each frame shows
    t0 = float(motion.times[0])
    times = b.add((motion.times - t0).astype(np.float32), "SCALAR", minmax=True)
    quats = joint_quaternions(rig, motion, shown).astype(np.float32)  # (N, J, 4)
    samplers, channels = [], []
    for j in range(nj):
        samplers.append({"input": times, "output": b.add(np.ascontiguousarray(quats[:, j]), "VEC4"),
                         "interpolation": "LINEAR"})
        channels.append({"sampler": j, "target": {"node": j, "path": "rotation"}})
    root_pos = root_world(rig, motion, shown)[1].astype(np.float32)
    samplers.append({"input": times, "output": b.add(root_pos, "VEC3"), "interpolation": "LINEAR"})
    channels.append({"sampler": nj, "target": {"node": 0, "path": "translation"}})
    if missing == "hide":
        scale = np.repeat(motion.present.astype(np.float32)[:, None], 3, axis=1)
        samplers.append({"input": times, "output": b.add(scale, "VEC3"), "interpolation": "STEP"})
        channels.append({"sampler": nj + 1, "target": {"node": 0, "path": "scale"}})

    gltf = {
        "asset": {"version": "2.0", "generator": GENERATOR,
                  "extras": {"glot": {"person": name, "frames": motion.num_frames,
                                      "frames_with_person": int(motion.present.sum()), "missing": missing,
                                      "time_offset_s": t0, "influences": influences,
                                      "focal_length_px": camera.focal_length if camera else None,
                                      "image_size": [camera.width, camera.height] if camera else None}}},
        "scene": 0,
        "scenes": [{"name": name, "nodes": scene_nodes}],
        "nodes": nodes,
        "meshes": [{"name": f"{name}_body", "primitives": [{"attributes": attrs, "indices": indices,
                                                           "material": 0}]}],
        "materials": [pbr_material(color, name)],
        "skins": [{"name": name, "joints": list(range(nj)), "skeleton": 0,
                   "inverseBindMatrices": b.add(ibm, "MAT4")}],
        "animations": [{"name": name, "samplers": samplers, "channels": channels}],
        "buffers": b.buffers(),
        "bufferViews": b.views,
        "accessors": b.accessors,
    }
    if cameras:
        gltf["cameras"] = cameras
    if copyright:
        gltf["asset"]["copyright"] = copyright
    return pack_glb(gltf, b.binary())


def write_motion_glb(path: str | os.PathLike, body: SMPLBody, motion: Motion, color: Color = FINAL_COLOR,
                     name: str = "person", camera: CameraView | None = None, influences: int = 4,
                     missing: str = "hold", copyright: str | None = None) -> Path:
    """Write :func:`motion_to_glb` to ``path`` (e.g. ``motion_final.glb``); returns the path."""
    data = motion_to_glb(body, motion, color=color, name=name, camera=camera, influences=influences,
                         missing=missing, copyright=copyright)
    return write_atomic(path, data)
