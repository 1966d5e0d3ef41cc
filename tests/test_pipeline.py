"""The video pipeline end to end on real footage, with MediaPipe for real and official-format
checkpoints (the reference weights on the synthetic SMPL + a random SPIN backbone)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from glot.assets import AssetNotFoundError
from glot.pipeline import RunOptions, load_bundle, regress_frames, run_video
from glot.render import project_orig_cam

from conftest import CARPHONE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def assets(pipeline_assets):
    return pipeline_assets


@pytest.fixture(scope="module")
def bundle(pipeline_bundle):
    return pipeline_bundle


@pytest.fixture(scope="module")
def carphone_run(bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return run_video(CARPHONE, out, bundle, RunOptions(max_frames=48, bf16=False))


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_outputs_structure_and_counts(carphone_run):
    res = carphone_run
    d = res.out_dir
    assert sorted(p.name for p in d.iterdir()) == ["motion_final.bvh", "motion_final.glb", "motion_global.bvh",
                                                    "motion_global.glb", "overlay.mp4", "results.npz", "summary.json"]
    assert not list(d.parent.glob(".*partial*"))
    r = np.load(d / "results.npz")
    n = 48
    assert r["frame_index"].tolist() == list(range(n))
    t = r["time"]
    assert np.all(np.diff(t) > 0) and abs(t[1] - t[0] - 1 / 29.97) < 1e-3
    assert r["track_id"].tolist() == res.track_ids and len(res.track_ids) == 1
    assert r["valid"].shape == (1, n) and r["valid"].all() and r["segments"].tolist() == [[0, 0, n]]
    for b in ("global", "final"):
        assert r[f"{b}_pose"].shape == (1, n, 72) and r[f"{b}_betas"].shape == (1, n, 10)
        assert r[f"{b}_joints3d"].shape == (1, n, 49, 3) and r[f"{b}_joints2d"].shape == (1, n, 49, 2)
        assert r[f"{b}_orig_cam"].shape == (1, n, 4) and np.isfinite(r[f"{b}_orig_cam"]).all()
        assert r[f"{b}_rotmat"].shape == (1, n, 24, 3, 3)
    assert "final_verts" not in r  # only with save_verts
    assert r["landmarks"].shape == (1, n, 33, 4) and r["world_landmarks"].shape == (1, n, 33, 3)
    assert r["box"].shape == (1, n, 4) and r["detected"].shape == (1, n)
    summary = json.loads((d / "summary.json").read_text())
    assert summary["frames_seen"] == n and summary["frames_with_person"] == n and summary["people"] == 1
    assert summary["tracks"] == [{"id": res.track_ids[0], "first_frame": 0, "last_frame": n - 1,
                                  "frames_detected": int(r["detected"].sum()), "frames_valid": n,
                                  "segments": [[0, n]]}]
    assert summary["video"] == CARPHONE.name  # the file name only (no server path)
    assert {"decode+track", "features", "glot", "render", "export"} <= set(summary["seconds"])
    assert summary["device"] == "cpu" and summary["model"]["checkpoint"].endswith("table1_3dpw_weights.pth.tar")


def test_boxes_follow_landmarks(carphone_run):
    r = np.load(carphone_run.out_dir / "results.npz")
    lm, vis, box = r["landmarks"][0, ..., :3], r["landmarks"][0, ..., 3], r["box"][0]
    for i in range(0, 48, 6):
        pts = lm[i][vis[i] > 0.5, :2]
        centre = pts.mean(0)
        assert np.abs(box[i, :2] - centre).max() < 0.35 * box[i, 2]
        extent = (pts.max(0) - pts.min(0)).max()
        assert 0.8 * extent < box[i, 2] < 2.0 * extent


def test_overlay_mesh_pixels_lie_on_projected_vertices(carphone_run, bundle):
    d = carphone_run.out_dir
    r = np.load(d / "results.npz")
    frames = _decode(d / "overlay.mp4")
    assert len(frames) == 48
    W, H = (int(v) for v in r["image_size"])
    assert frames[0].shape == (H, 3 * W, 3)
    from glot.pipeline import person_shapes, pose_meshes
    from glot.pipeline.regress import BranchResult

    for b, k in (("global", 1), ("final", 2)):
        br = BranchResult(rotmat=r[f"{b}_rotmat"], pose=r[f"{b}_pose"], betas=r[f"{b}_betas"], cam=r[f"{b}_cam"],
                          joints3d=r[f"{b}_joints3d"], joints2d=r[f"{b}_joints2d"])
        i = 30
        shape = person_shapes(br, r["valid"])  # each person's one mesh shape: the median of their betas
        assert np.allclose(shape[0], np.median(r[f"{b}_betas"][0], axis=0))
        verts = pose_meshes(bundle.glot.body, shape, br.rotmat[:, i])[0]
        cam = r[f"{b}_orig_cam"][0, i]
        uv = project_orig_cam(verts, cam, W, H)[:, :2]
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
        uv = uv[inside]
        panel = frames[i][:, k * W:(k + 1) * W].astype(int)
        diff = np.abs(panel - frames[i][:, :W].astype(int)).sum(-1) > 120  # mesh pixels (codec noise aside)
        diff[:24, :] = False  # the corner label
        diff &= ~((panel.min(-1) > 215) | (panel.max(-1) < 50))  # the white-on-black id tag above the head
        ys, xs = np.nonzero(diff)
        assert len(xs) > 50
        # changed pixels lie within the projected vertices' extent (H.264 blur: a few px)
        x0, x1 = uv[:, 0].min() - 4, uv[:, 0].max() + 4
        y0, y1 = uv[:, 1].min() - 4, uv[:, 1].max() + 4
        inside_box = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
        assert inside_box.mean() > 0.97, inside_box.mean()
        # and the video's mesh pixels are this frame's mesh, of this branch, with this camera
        from glot.render import MeshRenderer

        mask = MeshRenderer(r["faces"], W, H).render_mask(verts, cam)
        iou = (mask & diff).sum() / (mask | diff).sum()
        assert iou > 0.65, iou  # H.264 (ultrafast) blurs a 176-px frame: edges fall below the threshold
        other = r[f"{'final' if b == 'global' else 'global'}_orig_cam"][0, 20]  # another frame's camera
        shifted = MeshRenderer(r["faces"], W, H).render_mask(verts, other)
        assert (shifted & diff).sum() / (shifted | diff).sum() < iou - 0.2, iou


def test_official_edge_windows(bundle, ref):
    feats = ref["eval"]["features"][0]  # (16, 2048) as 16 "frames"
    opts = RunOptions(edge="official")
    g, f = regress_frames(bundle.glot, feats, opts)
    with torch.no_grad():
        own = bundle.glot(feats[0:1].expand(16, -1)[None])  # frame 0's feature repeated T times
        mid = bundle.glot(feats[None])  # frame 8 has a full window
    assert np.allclose(f.pose[0], own.final.theta[0, 3:75].numpy(), atol=1e-5)
    assert np.allclose(f.pose[8], mid.final.theta[0, 3:75].numpy(), atol=1e-5)
    g2, f2 = regress_frames(bundle.glot, feats, RunOptions(edge="clamp"))
    assert np.allclose(f2.pose[8], f.pose[8], atol=1e-6) and not np.allclose(f2.pose[0], f.pose[0], atol=1e-4)


def test_block_mask_changes_global_on_masked_frames_only(bundle, ref):
    feats = torch.cat([ref["eval"]["features"][0], ref["eval"]["features"][1]])  # 32 frames
    from glot.pipeline import occlusion_mask

    opts = RunOptions(mask_pattern="block", mask_ratio=0.25, mask_start=14)
    occ = occlusion_mask(32, opts, 16)
    assert np.flatnonzero(occ).tolist() == [14, 15, 16, 17]
    g0, f0 = regress_frames(bundle.glot, feats, RunOptions())
    g1, f1 = regress_frames(bundle.glot, feats, opts, occluded=occ)
    changed = np.abs(g1.pose - g0.pose).max(1) > 1e-5
    assert changed[14:18].all()
    # frames whose windows do not reach the block are unchanged
    idx_far = [0, 1, 31]
    assert not changed[idx_far].any()


def test_short_clip_and_random_masking_seeded(bundle, tmp_path):
    a = run_video(CARPHONE, tmp_path, bundle, RunOptions(max_frames=10, render=False, meshes="none", bf16=False,
                                                          mask_pattern="random", mask_ratio=0.5, seed=3), name="a")
    b = run_video(CARPHONE, tmp_path, bundle, RunOptions(max_frames=10, render=False, meshes="none", bf16=False,
                                                          mask_pattern="random", mask_ratio=0.5, seed=3), name="b")
    ra, rb = np.load(a.out_dir / "results.npz"), np.load(b.out_dir / "results.npz")
    assert ra["final_pose"].shape == (1, 10, 72) and np.isfinite(ra["final_pose"]).all()
    assert np.array_equal(ra["global_pose"], rb["global_pose"])
    with pytest.raises(Exception, match="already exists"):
        run_video(CARPHONE, tmp_path, bundle, RunOptions(max_frames=10, render=False), name="a")


def _write_clip(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    from glot.render import VideoWriter

    with VideoWriter(path, fps=fps) as w:
        for f in frames:
            w.write(f)
    return path


def test_nobody_in_clip(bundle, tmp_path):
    clip = _write_clip(tmp_path / "empty_room.mp4", [np.full((120, 160, 3), 90, np.uint8)] * 12)
    res = run_video(clip, tmp_path / "out", bundle, RunOptions(bf16=False))
    assert res.num_people == 0 and "no person" in res.message
    s = json.loads((res.out_dir / "summary.json").read_text())
    assert s["frames_with_person"] == 0 and s["message"] == res.message and s["tracks"] == []
    assert (res.out_dir / "overlay.mp4").is_file()
    assert not list(res.out_dir.glob("motion_*")) and not list(res.out_dir.glob("meshes_*"))  # no mesh file
    r = np.load(res.out_dir / "results.npz")
    assert r["track_id"].shape == (0,) and r["final_pose"].shape == (0, 12, 72)


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(AssetNotFoundError) as err:
        load_bundle(assets_dir=tmp_path, model="official")
    assert "table1_3dpw_weights.pth.tar" in str(err.value) and str(tmp_path) in str(err.value)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "glot", "run", *args], capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("kind", ["garbage", "empty", "text", "truncated"])
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(kind, assets, tmp_path):
    bad = tmp_path / f"{kind}.mp4"
    if kind == "garbage":
        bad.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "text":
        bad = tmp_path / "notes.txt"
        bad.write_text("not a video\n")
    else:
        data = CARPHONE.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    out = tmp_path / "out"
    r = _cli(str(bad), "--out", str(out), "--assets", str(assets), "--device", "cpu", "--fp32")
    assert r.returncode == 2, r.stderr[-2000:]
    err_lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(err_lines) == 1 and "Traceback" not in r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_overlapped_stages_give_the_sequential_outputs(bundle, tmp_path):
    """Decoding and posing in worker threads (the default) changes nothing: same arrays, same video."""
    runs = {}
    for overlap in (True, False):
        runs[overlap] = run_video(CARPHONE, tmp_path, bundle, RunOptions(max_frames=20, bf16=False, overlap=overlap),
                                  name=f"overlap-{overlap}")
    a, b = (np.load(runs[k].out_dir / "results.npz") for k in (True, False))
    assert a.files == b.files
    for k in a.files:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    va, vb = (_decode(runs[k].out_dir / "overlay.mp4") for k in (True, False))
    assert len(va) == len(vb) == 20 and all(np.array_equal(x, y) for x, y in zip(va, vb))
    for name in ("motion_final.glb", "motion_global.bvh"):
        assert (runs[True].out_dir / name).read_bytes() == (runs[False].out_dir / name).read_bytes()


PEDESTRIANS = REPO / "assets" / "examples" / "pedestrians.mp4"


@pytest.fixture(scope="module")
def open_bundle():
    return load_bundle(model="open", device="cpu")


def test_every_person_gets_arrays_and_motion_files(open_bundle, tmp_path):
    res = run_video(PEDESTRIANS, tmp_path, open_bundle, RunOptions(max_frames=30, render=False))
    r = np.load(res.out_dir / "results.npz")
    P = len(r["track_id"])
    assert P >= 3 and res.num_people == P and r["valid"].shape == (P, 30)
    assert r["final_pose"].shape == (P, 30, 72) and r["global_joints2d"].shape == (P, 30, 49, 2)
    assert r["landmarks"].shape == (P, 30, 33, 4) and r["box"].shape == (P, 30, 4)
    v = r["valid"]
    assert np.isfinite(r["final_pose"][v]).all() and np.isnan(r["final_pose"][~v]).all()
    for tid in r["track_id"]:  # one file pair per person and branch, named by track id
        for b in ("global", "final"):
            assert (res.out_dir / f"motion_{b}_{tid}.glb").is_file() and (res.out_dir / f"motion_{b}_{tid}.bvh").is_file()
    s = json.loads((res.out_dir / "summary.json").read_text())
    assert [t["id"] for t in s["tracks"]] == r["track_id"].tolist() and s["people"] == P
    # --max-people K keeps the K most prominent; --person ID keeps that track
    area = np.where(v, np.nan_to_num(r["box"][..., 2] * r["box"][..., 3]), 0).sum(1)
    top2 = sorted(r["track_id"][np.argsort(-area)[:2]].tolist())
    two = run_video(PEDESTRIANS, tmp_path, open_bundle, RunOptions(max_frames=30, render=False, meshes="none",
                                                                    max_people=2), name="two")
    assert two.track_ids == top2 and two.summary["tracks_not_selected"] == P - 2
    tid = int(r["track_id"][-1])
    one = run_video(PEDESTRIANS, tmp_path, open_bundle, RunOptions(max_frames=30, render=False, person=tid), name="one")
    assert one.track_ids == [tid] and (one.out_dir / "motion_final.glb").is_file()  # one person: no id suffix
    r1 = np.load(one.out_dir / "results.npz")
    p = int(np.flatnonzero(r["track_id"] == tid)[0])
    assert np.allclose(r1["final_pose"][0], r["final_pose"][p], atol=1e-5, equal_nan=True)  # the same estimates
    with pytest.raises(Exception, match="no track with id 999"):
        run_video(PEDESTRIANS, tmp_path, open_bundle, RunOptions(max_frames=30, render=False, person=999), name="x")


def test_clip_shorter_than_the_minimum_track_is_one_segment(open_bundle, tmp_path):
    """Four frames of a visible person: a person, not 'nobody' (the minimum lengths shrink to the clip)."""
    res = run_video(CARPHONE, tmp_path, open_bundle, RunOptions(max_frames=4, render=False, meshes="none"))
    assert res.num_people == 1 and res.summary["tracks"][0]["segments"] == [[0, 4]]
