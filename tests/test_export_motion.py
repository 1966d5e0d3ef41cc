"""The skinned motion GLB: Khronos' validator, the rest mesh in the person's shape (trimesh and
smplx), the skeleton and animation layout, missing frames, bad input."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import trimesh

from glot.body.joints import SMPL_JOINT_NAMES
from glot.export import OPEN_BODY_NOTICE, CameraView, Motion, hold_indices, motion_to_glb, write_motion_glb
from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR, to_rgb01
from helpers_export import C, read_accessor, read_glb, synthetic_scene, validate_gltf
from helpers_export import body, scene  # noqa: F401 (module fixtures)


def test_validator_reports_no_issues(tmp_path, body, scene):
    cam = CameraView(scene.focal, scene.width, scene.height)
    paths = [write_motion_glb(tmp_path / "motion_final.glb", body, scene.motion, FINAL_COLOR, "final",
                              copyright=OPEN_BODY_NOTICE),
             write_motion_glb(tmp_path / "motion_global_1.glb", body, scene.motion, GLOBAL_COLOR, "global",
                              camera=cam, influences=8, missing="hide")]
    reports = validate_gltf(paths)
    for report in reports:
        issues = report["issues"]
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, (report["file"], issues["messages"])
        info = report["info"]
        assert info["hasSkins"] and info["animationCount"] == 1 and info["totalVertexCount"] == body.num_verts
    assert [r["info"]["maxInfluences"] for r in reports] == [4, 8]


def test_rest_mesh_is_the_persons_shape(body, scene):
    """An independent reader (trimesh) sees smplx's T-pose mesh of these betas, in glTF's frame."""
    data = motion_to_glb(body, scene.motion)
    (mesh,) = trimesh.load(io.BytesIO(data), file_type="glb", process=False).geometry.values()
    ident = torch.eye(3).expand(1, 24, 3, 3)
    with torch.no_grad():
        rest = body(betas=torch.tensor(scene.motion.betas, dtype=torch.float32)[None], global_orient=ident[:, :1],
                    body_pose=ident[:, 1:], pose2rot=False).vertices[0].numpy()
    np.testing.assert_allclose(mesh.vertices, rest, atol=1e-5)
    np.testing.assert_array_equal(mesh.faces, body.faces_tensor.numpy())
    from_winding = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).vertex_normals
    assert np.einsum("vc,vc->v", mesh.vertex_normals, from_winding).min() > 0.5  # normals agree with CCW fronts
    assert mesh.volume > 0  # and the fronts face out of the body
    top = mesh.vertices[np.argmax(mesh.vertices[:, 1])]
    assert abs(top[0]) < 0.15 and np.ptp(mesh.vertices[:, 1]) > 1.4  # upright in glTF's y-up frame: head on top
    default = body(betas=torch.zeros(1, 10), global_orient=ident[:, :1], body_pose=ident[:, 1:],
                   pose2rot=False).vertices[0].detach().numpy()
    assert np.abs(mesh.vertices - default).max() > 0.01  # betas are baked in


def test_skeleton_and_animation_layout(body, scene):
    m = scene.motion
    gltf, binary = read_glb(motion_to_glb(body, m, FINAL_COLOR, "final", copyright=OPEN_BODY_NOTICE,
                                          camera=CameraView(scene.focal, scene.width, scene.height)))
    assert gltf["asset"]["copyright"] == OPEN_BODY_NOTICE
    (skin,) = gltf["skins"]
    nodes = gltf["nodes"]
    assert len(skin["joints"]) == 24 and [nodes[j]["name"] for j in skin["joints"]] == list(SMPL_JOINT_NAMES)
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    parents = body.parents.numpy()
    assert [parent.get(j, -1) if j else -1 for j in skin["joints"]] == [-1] + parents[1:].tolist()
    # inverse bind matrices undo the joints' rest transforms (node translations chained)
    rest = np.zeros((24, 3))
    for j in range(24):
        rest[j] = np.asarray(nodes[j]["translation"]) + (rest[parents[j]] if j else 0.0)
    ident = torch.eye(3).expand(1, 24, 3, 3)
    with torch.no_grad():
        smplx_rest = body(betas=torch.tensor(m.betas, dtype=torch.float32)[None], global_orient=ident[:, :1],
                          body_pose=ident[:, 1:], pose2rot=False).joints[0, :24].numpy()
    np.testing.assert_allclose(rest, smplx_rest, atol=1e-5)  # rest joints of the person's shape
    ibm = read_accessor(gltf, binary, skin["inverseBindMatrices"])
    np.testing.assert_allclose(ibm[:, :3, 3], -rest, atol=1e-6)
    np.testing.assert_allclose(ibm[:, :3, :3], np.tile(np.eye(3), (24, 1, 1)), atol=1e-7)
    # one keyframe per frame at the clip's timestamps (shifted to start at 0), every joint
    (anim,) = gltf["animations"]
    targets = {(c["target"]["node"], c["target"]["path"]) for c in anim["channels"]}
    assert targets == {(j, "rotation") for j in range(24)} | {(0, "translation")}
    for sampler in anim["samplers"]:
        keys = read_accessor(gltf, binary, sampler["input"])[:, 0]
        np.testing.assert_allclose(keys, m.times - m.times[0], atol=1e-6)
        assert len(read_accessor(gltf, binary, sampler["output"])) == m.num_frames
    assert gltf["asset"]["extras"]["glot"]["time_offset_s"] == pytest.approx(m.times[0])
    # frame 2's local rotations: children as given, the root turned into the y-up world
    quats = {c["target"]["node"]: read_accessor(gltf, binary, anim["samplers"][c["sampler"]]["output"])
             for c in anim["channels"] if c["target"]["path"] == "rotation"}
    from scipy.spatial.transform import Rotation
    got = Rotation.from_quat(np.stack([quats[j][2] for j in range(24)])).as_matrix()
    want = m.rotmat[2].copy()
    want[0] = C @ want[0]
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(to_rgb01(FINAL_COLOR), gltf["materials"][0]["pbrMetallicRoughness"]
                               ["baseColorFactor"][:3], atol=1e-6)
    (camera,) = gltf["cameras"]
    assert camera["perspective"]["yfov"] == pytest.approx(2 * np.arctan(scene.height / 2 / scene.focal))


def test_hold_indices():
    np.testing.assert_array_equal(hold_indices(np.array([0, 1, 1, 0, 0, 1, 0], bool)), [1, 1, 2, 2, 2, 5, 5])
    np.testing.assert_array_equal(hold_indices(np.array([1], bool)), [0])


def test_missing_frames_hold_or_hide(body, scene):
    m = scene.motion
    for missing in ("hold", "hide"):
        gltf, binary = read_glb(motion_to_glb(body, m, missing=missing))
        (anim,) = gltf["animations"]
        by_target = {(c["target"]["node"], c["target"]["path"]): anim["samplers"][c["sampler"]]
                     for c in anim["channels"]}
        pos = read_accessor(gltf, binary, by_target[(0, "translation")]["output"])
        np.testing.assert_allclose(pos[0], pos[1], atol=0)  # before the first sighting: the first pose
        np.testing.assert_allclose(pos[4], pos[3], atol=0)  # a gap holds the last pose
        np.testing.assert_allclose(pos[5], pos[3], atol=0)
        assert np.abs(pos[6] - pos[3]).max() > 1e-4
        if missing == "hide":
            scale = by_target[(0, "scale")]
            assert scale["interpolation"] == "STEP"
            np.testing.assert_array_equal(read_accessor(gltf, binary, scale["output"])[:, 0], m.present)
        else:
            assert (0, "scale") not in by_target


def test_size_of_a_4s_clip(body):
    """120 frames of the open body stay far below the 3 MB target (4 influences: 0.8 MB)."""
    scene = synthetic_scene(body, num_frames=120)
    assert len(motion_to_glb(body, scene.motion)) < 1.0e6
    assert len(motion_to_glb(body, scene.motion, influences=8)) < 1.3e6


def test_bad_input_is_one_clear_line(tmp_path, body, scene):
    m = scene.motion
    with pytest.raises(ValueError, match="absent from every frame"):
        Motion(m.rotmat, m.betas, m.transl, m.times, np.zeros(m.num_frames, bool))
    with pytest.raises(ValueError, match="strictly increasing"):
        Motion(m.rotmat, m.betas, m.transl, m.times[::-1], m.present)
    with pytest.raises(ValueError, match=r"transl \(N, 3\)"):
        Motion(m.rotmat, m.betas, m.transl[:3], m.times, m.present)
    with pytest.raises(ValueError, match="influences"):
        write_motion_glb(tmp_path / "bad.glb", body, m, influences=5)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
