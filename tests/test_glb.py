"""GLB export: round trips through trimesh, glTF orientation, per-frame zip, animated sequence."""
from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import pytest
import trimesh

from glot.export import mesh_to_glb, pair_to_glb, sequence_to_animated_glb, to_gltf_frame, write_frames_zip
from glot.render import person_mesh


@pytest.fixture(scope="module")
def body():
    return person_mesh(16, 20)  # (322, 3) verts, (640, 3) faces, head at -y (camera frame)


def _load(data: bytes) -> trimesh.Scene:
    return trimesh.load(io.BytesIO(data), file_type="glb", process=False)


def _gltf_json(data: bytes) -> dict:
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and total == len(data)
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20:20 + length])


def test_gltf_frame_is_180_about_x():
    v = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(to_gltf_frame(v), [[1.0, -2.0, -3.0]])


def test_mesh_to_glb_round_trip(body):
    verts, faces = body
    data = mesh_to_glb(verts, faces, color=(255, 0, 0))
    (mesh,) = _load(data).geometry.values()
    assert mesh.vertices.shape == verts.shape and mesh.faces.shape == faces.shape
    np.testing.assert_allclose(mesh.bounds, [[v.min() for v in to_gltf_frame(verts).T],
                                             [v.max() for v in to_gltf_frame(verts).T]], atol=1e-6)
    # Upright for a y-up viewer: the head (camera -y) ends up at the top (+y).
    head = mesh.vertices[np.argmin(verts[:, 1])]
    assert head[1] == pytest.approx(mesh.vertices[:, 1].max())
    # Outward-facing winding kept (positive volume of the closed mesh).
    assert mesh.volume > 0
    material = _gltf_json(data)["materials"][0]
    np.testing.assert_allclose(material["pbrMetallicRoughness"]["baseColorFactor"], [1, 0, 0, 1], atol=1e-3)


def test_pair_to_glb_side_by_side(body):
    verts, faces = body
    scene = _load(pair_to_glb(verts, verts, faces, offset=1.0))
    assert set(scene.graph.nodes_geometry) == {"global", "final"}
    centres = {}
    for node in ("global", "final"):
        transform, geom = scene.graph[node]
        mesh = scene.geometry[geom].copy()
        mesh.apply_transform(transform)
        assert len(mesh.vertices) == len(verts)
        centres[node] = mesh.vertices.mean(0)
    np.testing.assert_allclose(centres["final"] - centres["global"], [1.0, 0.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(centres["global"], [-0.5, 0.0, 0.0], atol=1e-5)
    materials = _gltf_json(pair_to_glb(verts, verts, faces))["materials"]
    colors = [m["pbrMetallicRoughness"]["baseColorFactor"] for m in materials]
    assert len(colors) == 2 and colors[0] != colors[1]


def test_write_frames_zip(tmp_path, body):
    verts, faces = body
    seq = np.stack([verts + [0.1 * i, 0.0, 0.0] for i in range(3)])  # (3, V, 3)
    path = write_frames_zip(tmp_path / "out" / "frames.zip", seq, faces, frame_ids=[5, 6, 9])
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names == ["frame_000005.glb", "frame_000006.glb", "frame_000009.glb"]
        for i, name in enumerate(names):
            (mesh,) = _load(zf.read(name)).geometry.values()
            assert mesh.vertices.shape == verts.shape
            np.testing.assert_allclose(mesh.vertices.mean(0), to_gltf_frame(seq[i]).mean(0), atol=1e-5)


def _step_value(times: np.ndarray, values: np.ndarray, t: float) -> np.ndarray:
    return values[np.searchsorted(times, t, side="right") - 1]


def test_animated_glb(body):
    verts, faces = body
    n, fps = 4, 10.0
    seq = np.stack([verts + [0.2 * i, 0.0, 0.0] for i in range(n)])
    data = sequence_to_animated_glb(seq, faces, fps=fps)
    scene = _load(data)
    assert len(scene.geometry) == n
    assert all(len(g.vertices) == len(verts) and len(g.faces) == len(faces) for g in scene.geometry.values())
    gltf = _gltf_json(data)
    (anim,) = gltf["animations"]
    assert len(anim["channels"]) == n and {c["target"]["path"] for c in anim["channels"]} == {"scale"}
    # Decode each sampler and check exactly frame k is visible during frame k.
    length, _ = struct.unpack_from("<I4s", data, 12)
    bin_start = 20 + length + 8
    def read(acc_idx: int) -> np.ndarray:
        acc = gltf["accessors"][acc_idx]
        view = gltf["bufferViews"][acc["bufferView"]]
        ncomp = {"SCALAR": 1, "VEC3": 3}[acc["type"]]
        raw = np.frombuffer(data, np.float32, acc["count"] * ncomp, bin_start + view["byteOffset"])
        return raw.reshape(acc["count"], ncomp)
    for k in range(n):
        t = (k + 0.5) / fps
        visible = [
            _step_value(read(s["input"])[:, 0], read(s["output"]), t)[0] > 0 for s in anim["samplers"]
        ]
        assert visible == [i == k for i in range(n)]
        assert all(s["interpolation"] == "STEP" for s in anim["samplers"])
    # Positions of frame 2 in the glTF frame.
    pos = read(gltf["meshes"][2]["primitives"][0]["attributes"]["POSITION"])
    np.testing.assert_allclose(pos, to_gltf_frame(seq[2]), atol=1e-6)
