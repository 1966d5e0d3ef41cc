"""Shared pieces of the export tests: bodies, a deterministic synthetic motion, independent
references (smplx / SMPLBody, never the exporter's own maths) and Khronos' glTF validator."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from glot.body import SMPLBody
from glot.body.open_body import open_body_arrays
from glot.camera import orig_cam_to_translation
from glot.export import Motion, build_rig
from glot.geometry import axis_angle_to_rotmat
from glot.render.projection import project_orig_cam

REPO = Path(__file__).resolve().parents[1]
VALIDATOR_DIR = REPO / "tools" / "gltf_validator"
C = np.diag([1.0, -1.0, -1.0])  # camera frame (y down) <-> exported y-up world, 180 degrees about x


def open_body() -> SMPLBody:
    a = open_body_arrays()
    return SMPLBody(a, a["J_regressor_extra"], vertex_ids=a["vertex_ids"], batch_size=1)


def smpl_format_body() -> SMPLBody:
    """An SMPL-format body *with* pose blend shapes: the open body's mesh, joints and weights plus
    random pose correctives like glot.testing's synthetic SMPL (posedirs N(0, 1 mm), seed 0).

    (glot.testing's own synthetic body has random faces that leave vertices unused, which Blender's
    importer drops, so vertices could not be compared one to one.)"""
    a = open_body_arrays()
    rng = np.random.default_rng(0)
    a["posedirs"] = rng.normal(0.0, 0.001, size=a["posedirs"].shape).astype(np.float32)
    return SMPLBody(a, a["J_regressor_extra"], vertex_ids=a["vertex_ids"], batch_size=1)


@dataclass
class Scene:
    """A synthetic clip: motion, its image cameras and the camera used for the translation."""

    motion: Motion
    orig_cam: np.ndarray  # (N, 4)
    width: int
    height: int
    focal: float
    fps: float


def synthetic_scene(body: SMPLBody, num_frames: int = 10, seed: int = 0) -> Scene:
    """Random joint rotations (about 17 degrees per axis) on an upright, camera-facing root; the
    person absent at frame 0 (before the first sighting) and at frames 4-5 (a gap); timestamps
    start at 1.5 s and jitter around 30 fps (a real clip's)."""
    rng = np.random.default_rng(seed)
    aa = torch.tensor(rng.normal(0.0, 0.3, size=(num_frames, 24, 3)))
    rotmat = axis_angle_to_rotmat(aa).numpy()
    rotmat[:, 0] = C @ rotmat[:, 0]  # GLoT's root carries the 180-degree flip of the camera frame
    betas = rng.normal(0.0, 1.0, size=10)
    width, height, fps = 640, 480, 30.0
    s = rng.uniform(0.45, 0.55, size=num_frames)  # crop-style scale; sx W = sy H as in crop_cam_to_orig_img
    orig_cam = np.stack([s * 480 / width, s * 480 / height, rng.normal(0, 0.2, num_frames),
                         rng.normal(0.3, 0.2, num_frames)], axis=1)
    focal = float(np.hypot(width, height))
    root = build_rig(body, betas).joints[0]
    transl = orig_cam_to_translation(orig_cam, width, height, focal, root=root)
    times = 1.5 + np.arange(num_frames) / fps + rng.uniform(-0.004, 0.004, num_frames)
    present = np.ones(num_frames, bool)
    present[[0, 4, 5]] = False
    return Scene(Motion(rotmat, betas, transl, times, present), orig_cam, width, height, focal, fps)


def shown_frame(motion: Motion, k: int) -> int:
    """The frame whose pose frame ``k`` must show ("hold the last pose"), worked out by hand."""
    present = list(motion.present)
    earlier = [i for i in range(k + 1) if present[i]]
    return earlier[-1] if earlier else present.index(True)


def reference_verts(body: SMPLBody, motion: Motion, frames: list[int], posedirs: bool = True) -> np.ndarray:
    """``(K, V, 3)`` camera-frame vertices: ``SMPLBody.pose`` (the pipeline's) + translation.

    ``posedirs=False`` drops the pose blend shapes (what glTF skinning can do)."""
    rot = torch.tensor(motion.rotmat[frames], dtype=torch.float32)
    betas = torch.tensor(motion.betas, dtype=torch.float32)[None].repeat(len(frames), 1)
    saved = body.posedirs.clone()
    try:
        if not posedirs:
            body.posedirs.zero_()
        with torch.no_grad():
            verts = body.pose(betas, rot).verts.double().numpy()
    finally:
        body.posedirs.copy_(saved)
    return verts + motion.transl[frames][:, None]


def reference_joints(body: SMPLBody, motion: Motion, frames: list[int]) -> np.ndarray:
    """``(K, 24, 3)`` camera-frame kinematic joints from smplx's own forward pass + translation."""
    rot = torch.tensor(motion.rotmat[frames], dtype=torch.float32)
    betas = torch.tensor(motion.betas, dtype=torch.float32)[None].repeat(len(frames), 1)
    with torch.no_grad():
        out = body(betas=betas, global_orient=rot[:, :1], body_pose=rot[:, 1:], pose2rot=False)
    return out.joints[:, :24].double().numpy() + motion.transl[frames][:, None]


def overlay_root_pixel(body: SMPLBody, scene: Scene, k: int) -> np.ndarray:
    """``(2,)`` pixel where the overlay draws the root joint of frame ``k`` (orthographic)."""
    root = build_rig(body, scene.motion.betas).joints[0]
    return project_orig_cam(root, scene.orig_cam[k], scene.width, scene.height)[:2]


def validate_gltf(paths: list[Path]) -> list[dict]:
    """Run Khronos' glTF-Validator (node, ``tools/gltf_validator``) on ``paths``; its reports."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the glTF validator runs on Node.js (apt-get install nodejs npm)")
    if not (VALIDATOR_DIR / "node_modules" / "gltf-validator").is_dir():
        pytest.fail(f"gltf-validator is not installed in {VALIDATOR_DIR}/node_modules: run `make install-dev` "
                    "(or `npm ci` in tools/gltf_validator)")
    proc = subprocess.run([node, str(VALIDATOR_DIR / "validate.js"), *map(str, paths)], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode not in (0, 1):
        pytest.fail(f"glTF validator failed to run: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """GLB bytes -> (glTF JSON, binary chunk)."""
    length = int(np.frombuffer(data, np.uint32, 1, 12)[0])
    gltf = json.loads(data[20:20 + length])
    return gltf, data[20 + length + 8:]


def read_accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    """One accessor as ``(count, components)`` (``(count, 4, 4)`` row-major for MAT4)."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}[acc["componentType"]]
    ncomp = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
    raw = np.frombuffer(binary, dtype, acc["count"] * ncomp, view["byteOffset"] + acc.get("byteOffset", 0))
    if acc["type"] == "MAT4":
        return raw.reshape(-1, 4, 4).transpose(0, 2, 1)  # stored column-major
    return raw.reshape(acc["count"], ncomp)


# module fixtures of the exporters' tests: a module imports them by name (and gets its own instance);
# not in conftest, where other modules define a `body` fixture of their own
@pytest.fixture(scope="module")
def body() -> SMPLBody:
    return open_body()


@pytest.fixture(scope="module")
def scene(body) -> Scene:
    return synthetic_scene(body)
