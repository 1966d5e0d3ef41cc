"""The motion GLB imported by Blender itself (the ``bpy`` wheel), in a subprocess: 24 bones, one
keyframe per frame, the evaluated skinned mesh equal to the pipeline's vertices, the body upright
and seen through the imported camera where the overlay draws it.

Run as a script (``python tests/test_export_blender.py JOBS.json``) it is the Blender side: it
imports each GLB into an empty scene and writes what Blender evaluated to ``.npz`` files.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

FRAMES = [0, 2, 4, 9]  # 0: before the first sighting, 4: in a gap (held poses), 2 and 9: seen


def _blender_side(jobs_path: str) -> None:
    import bpy
    from bpy_extras.object_utils import world_to_camera_view

    for job in json.loads(Path(jobs_path).read_text()):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        if job["glb"].endswith(".fbx"):  # the optional FBX: its structure only
            bpy.ops.import_scene.fbx(filepath=job["glb"])
            arm = next(o for o in scene.objects if o.type == "ARMATURE")
            mesh = next(o for o in scene.objects if o.type == "MESH" and o.find_armature() is arm)
            keys = [len(fc.keyframe_points) for fc in bpy.data.actions[0].fcurves]
            np.savez(job["out"], bones=len(arm.data.bones), keys=np.array(keys), num_verts=len(mesh.data.vertices))
            continue
        scene.render.resolution_x, scene.render.resolution_y = job["width"], job["height"]
        bpy.ops.import_scene.gltf(filepath=job["glb"])
        fps = scene.render.fps / scene.render.fps_base
        arm = next(o for o in scene.objects if o.type == "ARMATURE")
        mesh = next(o for o in scene.objects if o.type == "MESH" and o.find_armature() is arm)
        camera = next((o for o in scene.objects if o.type == "CAMERA"), None)
        (action,) = bpy.data.actions
        keys = [len(fc.keyframe_points) for fc in action.fcurves]
        last_key = max(fc.keyframe_points[-1].co[0] for fc in action.fcurves)
        verts, pelvis, head, pixels = [], [], [], []
        for t in job["times"]:
            frame = t * fps
            scene.frame_set(int(np.floor(frame)), subframe=float(frame - np.floor(frame)))
            depsgraph = bpy.context.evaluated_depsgraph_get()
            evaluated = mesh.evaluated_get(depsgraph)
            me = evaluated.to_mesh()
            co = np.empty(len(me.vertices) * 3)
            me.vertices.foreach_get("co", co)
            world = np.array(evaluated.matrix_world)
            verts.append(co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3])
            evaluated.to_mesh_clear()
            bones = arm.evaluated_get(depsgraph).pose.bones
            p = arm.matrix_world @ bones["pelvis"].head
            pelvis.append(tuple(p))
            head.append(tuple(arm.matrix_world @ bones["head"].head))
            if camera is not None:
                uv = world_to_camera_view(scene, camera.evaluated_get(depsgraph), p)
                pixels.append((uv.x * job["width"], (1.0 - uv.y) * job["height"], uv.z))
        node = mesh.active_material.node_tree.nodes.get("Principled BSDF")
        color = tuple(node.inputs["Base Color"].default_value)[:3] if node else (np.nan,) * 3
        np.savez(job["out"], verts=np.stack(verts), pelvis=np.array(pelvis), head=np.array(head),
                 pixels=np.array(pixels), bones=len(arm.data.bones), keys=np.array(keys), fps=fps,
                 last_key=last_key, color=np.array(color), num_verts=len(mesh.data.vertices))


if __name__ == "__main__":
    _blender_side(sys.argv[1])
    sys.exit(0)

# ---------------------------------------------------------------------------------------- tests
import importlib.util  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from glot.export import CameraView, write_motion_glb  # noqa: E402
from glot.render.colors import GLOBAL_COLOR, to_rgb01  # noqa: E402
from helpers_export import (C, open_body, overlay_root_pixel, reference_verts, shown_frame,  # noqa: E402
                            smpl_format_body, synthetic_scene)


def _from_blender(points: np.ndarray) -> np.ndarray:
    """Blender world (z up; the importer maps glTF (x, y, z) to (x, -z, y)) -> GLoT camera frame."""
    gltf = np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)
    return gltf @ C.T


@pytest.fixture(scope="module")
def bodies():
    return {"open": open_body(), "smpl": smpl_format_body()}


@pytest.fixture(scope="module")
def scenes(bodies):
    return {name: synthetic_scene(body) for name, body in bodies.items()}


@pytest.fixture(scope="module")
def blender(tmp_path_factory, bodies, scenes):
    """Write the files, import them all in one Blender subprocess; ``{case: npz arrays}``."""
    if importlib.util.find_spec("bpy") is None:
        pytest.fail("the bpy wheel (Blender as a module) is not installed: pip install -r requirements-dev.txt")
    tmp = tmp_path_factory.mktemp("blender")
    cases = {"open4": ("open", 4), "open8": ("open", 8), "smpl": ("smpl", 8)}
    jobs = []
    for case, (body_name, influences) in cases.items():
        scene = scenes[body_name]
        glb = write_motion_glb(tmp / f"{case}.glb", bodies[body_name], scene.motion, GLOBAL_COLOR, "global",
                               camera=CameraView(scene.focal, scene.width, scene.height), influences=influences)
        m = scene.motion
        jobs.append({"glb": str(glb), "out": str(tmp / f"{case}.npz"), "width": scene.width,
                     "height": scene.height, "times": [float(m.times[k] - m.times[0]) for k in FRAMES]})
    tool = Path(__file__).resolve().parents[1] / "tools" / "blender_motion.py"
    proc = subprocess.run([sys.executable, str(tool), "fbx", str(tmp / "open4.glb"), str(tmp / "open4.fbx")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs.append({"glb": str(tmp / "open4.fbx"), "out": str(tmp / "fbx.npz")})
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, __file__, str(tmp / "jobs.json")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {case: dict(np.load(tmp / f"{case}.npz")) for case in [*cases, "fbx"]}


def test_blender_sees_24_bones_and_a_key_per_frame(blender, scenes):
    m = scenes["open"].motion
    for case in ("open4", "open8", "smpl"):
        got = blender[case]
        assert int(got["bones"]) == 24, case
        assert len(got["keys"]) == 24 * 4 + 3 and set(got["keys"].tolist()) == {m.num_frames}, case
        assert float(got["last_key"]) == pytest.approx((m.times[-1] - m.times[0]) * float(got["fps"]), abs=1e-3)
        np.testing.assert_allclose(got["color"], to_rgb01(GLOBAL_COLOR), atol=1e-6)


def test_blender_mesh_equals_the_pipeline_within_1mm(blender, bodies, scenes):
    """Open body, every influence kept (8 >= its 6): glTF skinning is SMPL's LBS exactly."""
    m = scenes["open"].motion
    got = _from_blender(blender["open8"]["verts"])
    want = reference_verts(bodies["open"], m, [shown_frame(m, k) for k in FRAMES])
    assert got.shape == want.shape
    err = np.linalg.norm(got - want, axis=-1)
    assert err.max() < 1e-3, err.max(axis=1)


def test_blender_four_influences(blender, bodies, scenes):
    """The default file keeps the 4 largest weights: exactly LBS with those weights renormalised;
    it differs from the pipeline only where the open body has more influences (measured)."""
    body, m = bodies["open"], scenes["open"].motion
    frames = [shown_frame(m, k) for k in FRAMES]
    got = _from_blender(blender["open4"]["verts"])
    full = body.lbs_weights.clone()
    order = torch.sort(-full, dim=1, stable=True).indices[:, :4]  # ties: the lower joint index
    four = torch.zeros_like(full).scatter(1, order, full.gather(1, order))
    try:
        body.lbs_weights.copy_(four / four.sum(1, keepdim=True))
        want = reference_verts(body, m, frames)
    finally:
        body.lbs_weights.copy_(full)
    assert np.linalg.norm(got - want, axis=-1).max() < 1e-3
    err = np.linalg.norm(got - reference_verts(body, m, frames), axis=-1)
    print(f"open body, 4 influences vs the pipeline: max {err.max() * 1e3:.2f} mm, "
          f"{(err > 1e-3).mean() * 100:.2f} % of vertices over 1 mm")
    assert 1e-3 < err.max() < 0.03  # truncation shows, and stays small


def test_blender_smpl_format_body_lacks_only_pose_blend_shapes(blender, bodies, scenes):
    body, m = bodies["smpl"], scenes["smpl"].motion
    frames = [shown_frame(m, k) for k in FRAMES]
    got = _from_blender(blender["smpl"]["verts"])
    assert np.linalg.norm(got - reference_verts(body, m, frames, posedirs=False), axis=-1).max() < 1e-3
    err = np.linalg.norm(got - reference_verts(body, m, frames), axis=-1)
    print(f"SMPL-format body with pose blend shapes vs the pipeline: max {err.max() * 1e3:.2f} mm, "
          f"mean {err.mean() * 1e3:.2f} mm")
    assert err.max() > 1e-3  # the correctives are really missing (so the check above means something)


def test_blender_person_upright_in_front_of_the_camera(blender, bodies, scenes):
    scene = scenes["open"]
    got = blender["open8"]
    assert np.all(got["head"][:, 2] > got["pelvis"][:, 2] + 0.3)  # Blender is z up: the head is on top
    for i, k in enumerate(FRAMES):
        u, v, depth = got["pixels"][i]
        assert depth > 0  # in front of the imported camera
        np.testing.assert_allclose((u, v), overlay_root_pixel(bodies["open"], scene, shown_frame(scene.motion, k)),
                                   atol=0.05)


def test_fbx_through_blender(blender, bodies, scenes):
    """tools/blender_motion.py fbx: the FBX re-imported has the bones, the mesh and a key per frame."""
    got = blender["fbx"]
    assert int(got["bones"]) == 24 and int(got["num_verts"]) == bodies["open"].num_verts
    assert set(got["keys"].tolist()) == {scenes["open"].motion.num_frames}
