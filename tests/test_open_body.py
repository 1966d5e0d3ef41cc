"""The open SMPL-format body built from Anny (committed asset only; anny is not needed)."""
from __future__ import annotations

import hashlib
import io
import json

import cv2
import numpy as np
import pytest
import smplx
import torch
import trimesh
from scipy.spatial import cKDTree
from smplx.utils import Struct

from glot.body.open_body import open_body_arrays, open_body_path, open_body_smplx, write_open_body_assets

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
NAMES = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
         "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
         "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hand", "right_hand"]
MIRROR = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22]
FLIP = np.array([-1.0, 1.0, 1.0])
J = {n: i for i, n in enumerate(NAMES)}


@pytest.fixture(scope="module")
def arrays():
    return open_body_arrays()


@pytest.fixture(scope="module")
def layer():
    return open_body_smplx()


def _forward(layer, pose: np.ndarray | None = None, betas: np.ndarray | None = None):
    """Vertices ``(V, 3)`` and joints ``(24, 3)`` of one body (``pose (72,)`` axis-angle)."""
    p = torch.zeros(1, 72) if pose is None else torch.as_tensor(pose, dtype=torch.float32)[None]
    b = torch.zeros(1, 10) if betas is None else torch.as_tensor(betas, dtype=torch.float32)[None]
    with torch.no_grad():
        out = layer(global_orient=p[:, :3], body_pose=p[:, 3:], betas=b)
    return out.vertices[0].numpy().astype(np.float64), out.joints[0, :24].numpy().astype(np.float64)


def _pose(**joints) -> np.ndarray:
    pose = np.zeros((24, 3))
    for name, aa in joints.items():
        pose[J[name]] = aa
    return pose.reshape(-1)


def _descendants(j: int) -> set[int]:
    """``j`` and every joint below it (parents come before children in SMPL's list)."""
    out = {j}
    for k in range(j + 1, 24):
        if PARENTS[k] in out:
            out.add(k)
    return out


# ------------------------------------------------------------------------------------ file and layout
def test_checksum_matches_build_record():
    path = open_body_path()
    record = json.loads((path.parent / "open_body.json").read_text())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
    assert path.stat().st_size < 3_000_000


def test_layout_matches_smpl_section(arrays):
    a = arrays
    nv, nf = a["v_template"].shape[0], a["f"].shape[0]
    assert nv > 10_000 and nf > 20_000
    expect = {"v_template": (nv, 3), "shapedirs": (nv, 3, 10), "posedirs": (nv, 3, 207), "J_regressor": (24, nv),
              "weights": (nv, 24), "kintree_table": (2, 24), "f": (nf, 3), "J_regressor_extra": (9, nv),
              "J_regressor_h36m": (17, nv), "mediapipe_vertex_ids": (33,), "extra_joints_idxs": (21,)}
    for key, shape in expect.items():
        assert a[key].shape == shape, key
        assert np.isfinite(a[key]).all(), key
    assert a["v_template"].dtype == np.float32 and a["f"].dtype == np.int64
    assert a["kintree_table"][0, 0] == 4294967295
    assert a["kintree_table"][0, 1:].tolist() == PARENTS[1:] and a["kintree_table"][1].tolist() == list(range(24))
    assert a["f"].min() == 0 and a["f"].max() == nv - 1
    np.testing.assert_allclose(a["weights"].sum(1), 1.0, atol=1e-6)
    assert (a["weights"] >= 0).all()
    for key in ("J_regressor", "J_regressor_extra", "J_regressor_h36m"):
        np.testing.assert_allclose(a[key].sum(1), 1.0, atol=1e-5)
    assert len(a["vertex_ids"]) == 21 and all(0 <= i < nv for i in a["vertex_ids"].values())
    assert (a["mediapipe_vertex_ids"] >= 0).all() and (a["mediapipe_vertex_ids"] < nv).all()
    mp = a["mean_params"]
    assert mp["pose"].shape == (144,) and mp["shape"].dtype == np.float64 and np.allclose(mp["cam"], [0.9, 0, 0])


def test_written_base_data_loads_in_smplx(arrays, tmp_path):
    folder = write_open_body_assets(tmp_path)
    for name in ("SMPL_NEUTRAL.npz", "J_regressor_extra.npy", "J_regressor_h36m.npy", "smpl_mean_params.npz",
                 "vertex_ids.npz", "mediapipe_vertex_ids.npy"):
        assert (folder / name).is_file(), name
    with np.load(folder / "SMPL_NEUTRAL.npz") as data:
        struct = Struct(**{k: data[k] for k in data.files})
    model = smplx.SMPL(model_path="", data_struct=struct, vertex_ids=arrays["vertex_ids"])
    out = model()
    v = out.vertices[0].detach().numpy()
    np.testing.assert_allclose(v, arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(out.joints[0, :24].detach().numpy(), arrays["J_regressor"] @ arrays["v_template"],
                               atol=1e-5)
    assert model.vertex_joint_selector.extra_joints_idxs.tolist() == arrays["extra_joints_idxs"].tolist()


def test_glot_body_layer_runs(arrays):
    from glot.body.smpl import SMPLBody

    body = SMPLBody(arrays, arrays["J_regressor_extra"], vertex_ids=arrays["vertex_ids"], batch_size=2)
    rotmat = torch.eye(3).expand(2, 24, 3, 3).clone()
    betas = torch.zeros(2, 10)
    betas[1, 0] = 1.5
    out = body.pose(betas, rotmat)
    assert out.joints.shape == (2, 49, 3) and torch.isfinite(out.joints).all()
    h36m = body.pose(betas, rotmat, J_regressor=torch.from_numpy(arrays["J_regressor_h36m"]))
    assert h36m.joints.shape == (2, 14, 3) and torch.isfinite(h36m.joints).all()
    # 14 LSP joints from H36M: head (13) well above the thorax (12), shoulders (8, 9) apart, ankles low
    j14 = h36m.joints[0].numpy()
    assert j14[13, 1] > j14[12, 1] + 0.15 and j14[9, 0] - j14[8, 0] > 0.25 and j14[0, 1] < j14[2, 1] - 0.7


# ------------------------------------------------------------------------------------ rest pose
def test_rest_pose_is_smpl_t_pose(arrays, layer):
    v, j = _forward(layer)
    np.testing.assert_allclose(j, arrays["joints_rest"], atol=2e-3)  # regressor meets the rest joints
    np.testing.assert_allclose(j[0], [0.0, -0.22, 0.0], atol=1e-3)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        chain = j[[J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"], J[f"{side}_hand"]]]
        d = np.diff(chain, axis=0)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        assert (d @ np.array([sign, 0, 0]) > 0.999).all(), side  # arms straight along +-x
        assert abs(chain[2, 1] - chain[0, 1]) < 0.01  # wrist at shoulder height
        leg = j[[J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]]]
        assert sign * leg[0, 0] > 0.05  # subject's left on +x
        assert abs(leg[1, 2] - leg[0, 2]) < 0.01 and abs(leg[2, 2] - leg[1, 2]) < 0.01  # legs straight
        assert j[J[f"{side}_foot"], 2] > leg[2, 2] + 0.05  # toes point forward (+z)
    assert j[J["head"], 1] > j[J["neck"], 1] > j[J["spine3"], 1] > j[J["spine1"], 1] > j[J["left_knee"], 1]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.55 < height < 1.85
    nose = v[arrays["vertex_ids"]["nose"]]
    assert nose[2] > j[J["head"], 2] + 0.05  # facing +z


def test_left_right_symmetric(arrays):
    v, jr = arrays["v_template"].astype(np.float64), arrays["joints_rest"]
    dist, mirror = cKDTree(v).query(v * FLIP)
    assert dist.max() < 1e-5
    np.testing.assert_allclose(jr[MIRROR] * FLIP, jr, atol=1e-5)
    swapped = arrays["weights"][mirror][:, MIRROR]
    np.testing.assert_allclose(swapped, arrays["weights"], atol=1e-4)
    for k in range(10):
        d = arrays["shapedirs"][:, :, k]
        np.testing.assert_allclose(d[mirror] * FLIP, d, atol=2e-3 * np.abs(d).max())


def test_faces_point_outwards(arrays):
    mesh = trimesh.Trimesh(arrays["v_template"], arrays["f"], process=False)
    assert 0.04 < mesh.volume < 0.12  # positive: outward (counter-clockwise) winding, as SMPL


# ------------------------------------------------------------------------------------ posing
@pytest.mark.parametrize("joint", range(1, 24))
def test_rotation_moves_only_descendants(arrays, layer, joint):
    v0, _ = _forward(layer)
    pose = np.zeros((24, 3))
    pose[joint] = (0.3, 0.5, -0.4)
    v1, _ = _forward(layer, pose.reshape(-1))
    moved = np.linalg.norm(v1 - v0, axis=1) > 1e-5
    owned = arrays["weights"][:, sorted(_descendants(joint))].sum(1) > 1e-6
    assert moved.any()
    assert not (moved & ~owned).any(), NAMES[joint]


def test_left_elbow_moves_left_forearm_like_smpl(arrays, layer):
    v0, j0 = _forward(layer)
    v1, j1 = _forward(layer, _pose(left_elbow=(0.0, -1.2, 0.0)))
    hand_l, hand_r = arrays["vertex_ids"]["lmiddle"], arrays["vertex_ids"]["rmiddle"]
    assert np.linalg.norm(v1[hand_l] - v0[hand_l]) > 0.1
    np.testing.assert_allclose(v1[hand_r], v0[hand_r], atol=1e-6)
    assert j1[J["left_wrist"], 2] > j0[J["left_wrist"], 2] + 0.15  # forearm swings forward (+z), as on SMPL
    _, j2 = _forward(layer, _pose(left_knee=(1.2, 0.0, 0.0)))
    assert j2[J["left_ankle"], 2] < j0[J["left_ankle"], 2] - 0.2  # knee flexion sends the foot back
    _, j3 = _forward(layer, _pose(left_shoulder=(0.0, 0.0, -1.2)))
    assert j3[J["left_wrist"], 1] < j0[J["left_wrist"], 1] - 0.3  # -z about the left shoulder lowers the arm


# ------------------------------------------------------------------------------------ shape space
def test_shape_directions_are_monotonic(layer):
    steps = np.linspace(-2, 2, 5)
    heights, depths = [], []
    for s in steps:
        v, _ = _forward(layer, betas=np.eye(10)[0] * s)
        heights.append(v[:, 1].max() - v[:, 1].min())
        v, _ = _forward(layer, betas=np.eye(10)[1] * s)
        depths.append(v[:, 2].max() - v[:, 2].min())
    assert np.all(np.diff(heights) > 0.02) and 1.4 < heights[0] and heights[-1] < 2.05
    d = np.diff(depths)
    assert np.all(d > 0.002) or np.all(d < -0.002)  # girth (front-back depth) changes steadily
    for k in range(10):
        for s in (-2.0, 2.0):
            v, j = _forward(layer, betas=np.eye(10)[k] * s)
            assert np.isfinite(v).all() and 1.4 < v[:, 1].max() - v[:, 1].min() < 2.05


# ------------------------------------------------------------------------------------ export and looks
def test_glb_round_trip(arrays, layer):
    from glot.export import mesh_to_glb, to_gltf_frame

    v, _ = _forward(layer, _pose(left_elbow=(0, -1.0, 0), right_knee=(0.8, 0, 0)))
    data = mesh_to_glb(v.astype(np.float32), arrays["f"])
    scene = trimesh.load(io.BytesIO(data), file_type="glb")
    mesh = next(iter(scene.geometry.values()))
    assert len(mesh.vertices) == len(v) and len(mesh.faces) == len(arrays["f"])
    expect = to_gltf_frame(v)
    np.testing.assert_allclose(np.sort(mesh.vertices, axis=0), np.sort(expect, axis=0), atol=1e-5)


def _silhouette(verts: np.ndarray, faces: np.ndarray, size: int = 200) -> tuple[np.ndarray, float]:
    """Orthographic front silhouette ``(size, size)`` bool of a mesh; pixels per metre."""
    scale = size / 2.0
    xy = np.stack([verts[:, 0] * scale + size / 2, (-0.3 - verts[:, 1]) * scale + size / 2], -1)
    img = np.zeros((size, size), np.uint8)
    for tri in np.round(xy[faces] * 4).astype(np.int32):
        cv2.fillConvexPoly(img, tri, 1, shift=2)
    return img.astype(bool), scale


def test_silhouette_looks_like_a_person(arrays, layer):
    v, j = _forward(layer)
    mask, scale = _silhouette(v, arrays["f"])

    def px(p):  # (x, y) metres -> (row, col)
        return int(round((-0.3 - p[1]) * scale + 100)), int(round(p[0] * scale + 100))

    r, c = px(j[J["head"]] + [0, 0.08, 0])
    assert mask[r, c]  # head
    r, _ = px(j[J["left_shoulder"]])
    assert mask[r, px(j[J["left_wrist"]])[1]] and mask[r, px(j[J["right_wrist"]])[1]]  # arms out at shoulder height
    r, c = px(j[J["left_elbow"]] + [0, 0.12, 0])
    assert not mask[r, c]  # air above the arm
    r, c = px(j[J["left_knee"]])
    assert mask[r, c] and mask[r, px(j[J["right_knee"]])[1]] and not mask[r, 100]  # two legs, a gap
    r, c = px(j[J["left_elbow"]] - [0, 0.25, 0])
    assert not mask[r, c]  # air below the arm, beside the hips
    r, c = px(j[J["pelvis"]])
    assert mask[r, c]
    fill = mask.mean()
    assert 0.05 < fill < 0.3
    # arms down: the silhouette narrows to the shoulders' width
    down, _ = _silhouette(_forward(layer, _pose(left_shoulder=(0, 0, -1.3), right_shoulder=(0, 0, 1.3)))[0],
                          arrays["f"])
    cols = np.flatnonzero(down.any(0))
    assert (cols[-1] - cols[0]) / scale < 0.75 < (np.flatnonzero(mask.any(0))[-1] - np.flatnonzero(mask.any(0))[0]) / scale
