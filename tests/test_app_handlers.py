"""The app's handlers with the real pipeline on the carphone clip (official-format test weights)."""
from __future__ import annotations

import numpy as np
import pytest

from glot.app import handlers as h
from glot.app import results_view as rv
from glot.app.plots import acceleration_figure, branch_difference, difference_figure, heatmap_figure, joint_acceleration
from glot.app.session import close_session, new_session
from glot.app.viewer import read_frame, read_frames, skeleton_bones
from glot.assets import AssetNotFoundError
from glot.video import iter_frames

from conftest import CARPHONE

N = 16  # frames per run: carphone is 176x144, 120 frames


def _opts(**kw):
    base = dict(window=16, local_width=4, mask_ratio=0.0, mask_pattern="none", seed=0, edge="clamp",
                precision="fp32", max_frames=N)
    base.update(kw)
    return h.check_video(CARPHONE, h.make_options(**base))


def _run(bundle, session, preselect=None, **kw) -> rv.RunView:
    events = list(h.iter_run(CARPHONE, session, bundle, _opts(**kw), preselect=preselect))
    assert events[-1].kind == "done"
    return events[-1].view


@pytest.fixture(scope="module")
def session():
    s = new_session()
    yield s
    close_session(s)
    assert not s.root.exists()


@pytest.fixture(scope="module")
def base(pipeline_bundle):
    """The default run, in a session of its own (a session's next run deletes its last one)."""
    s = new_session()
    events = list(h.iter_run(CARPHONE, s, pipeline_bundle, _opts()))
    view = events[-1].view
    data = {k: np.load(view.files["results"])[k] for k in ("global_pose", "final_pose", "global_joints3d")}
    yield events, view, data
    close_session(s)


def _pose(view: rv.RunView, branch: str = "final") -> np.ndarray:
    return np.load(view.files["results"])[f"{branch}_pose"]


def test_run_reports_stages_preview_and_files(base):
    events, view, _ = base
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done" and "preview" in kinds
    fr = [e.fraction for e in events if e.kind == "progress"]
    assert fr == sorted(fr) and fr[0] < 0.3 and fr[-1] == 1.0
    texts = " ".join(e.text for e in events if e.kind == "progress")
    for stage in ("tracking", "features", "GLoT", "rendering"):
        assert stage in texts
    preview = next(e.image for e in events if e.kind == "preview")
    assert preview.shape == (144, 3 * 176, 3)  # input | global | final at the clip's size
    assert set(view.files) == {"results", "overlay", "summary", "motion_global.glb", "motion_final.glb",
                               "motion_global.bvh", "motion_final.bvh"}
    assert view.num_frames == N and view.num_people == 1 and view.valid.all() and view.image_size == (176, 144)


def test_frame_view_changes_with_the_frame(pipeline_bundle, base):
    _, view, _ = base
    glb3, img3, cap3 = rv.frame_view(pipeline_bundle, view, 3)
    glb9, img9, cap9 = rv.frame_view(pipeline_bundle, view, 9)
    assert glb3 != glb9 and glb3.read_bytes()[:4] == b"glTF" and glb3.read_bytes() != glb9.read_bytes()
    assert "frame 3" in cap3 and "frame 9" in cap9
    plain = rv.display_frame(view, 3)
    assert img3.shape == plain.shape == (589, 720, 3)  # 176 x 144 shown enlarged
    # the frame shown comes from the overlay's input panel: the clip's frame 3, within codec noise
    import cv2

    src = cv2.resize(read_frame(CARPHONE, float(view.times[3])), (720, 589), interpolation=cv2.INTER_LINEAR)
    assert np.abs(plain.astype(int) - src.astype(int)).mean() < 8
    # the joints are drawn where both branches' 2D joints project
    drawn = np.abs(img3.astype(int) - plain.astype(int)).sum(-1) > 60
    assert drawn.sum() > 300
    s = 720 / 176
    for b in ("global", "final"):
        x, y = np.round(view.joints2d[b][0, 3, 27] * s).astype(int)  # right hip
        if 0 <= x < 720 and 0 <= y < 589:
            assert drawn[max(0, y - 3):y + 4, max(0, x - 3):x + 4].any(), b
    import trimesh

    scene = trimesh.load(glb3, file_type="glb")
    assert sorted(scene.geometry) == ["final", "global"]


def test_read_frame_seeks_to_the_right_frame():
    frames = {f.index: (f.time, f.image) for f in iter_frames(CARPHONE) if f.index in (0, 57, 119)}
    for i, (t, img) in frames.items():
        assert np.array_equal(read_frame(CARPHONE, t), img), i
    small = read_frame(CARPHONE, frames[57][0], max_side=88)
    assert small.shape == (72, 88, 3)


def test_read_frames_in_one_pass_gives_each_frame():
    """Thumbnails of several people read their frames in one decode: the same images as one read
    each and as the decoded clip, in the order asked, duplicates and times between frames included."""
    frames = [(f.time, f.image) for f in iter_frames(CARPHONE)]
    picks = [90, 3, 57, 3, 119]
    times = [frames[i][0] for i in picks] + [frames[40][0] + 0.4 / 30]  # between frames 40 and 41: 40 is shown
    got = read_frames(CARPHONE, times)
    want = [frames[i][1] for i in picks] + [frames[40][1]]
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    assert np.array_equal(read_frames(CARPHONE, [frames[-1][0] + 5.0])[0], frames[-1][1])  # past the end: the last
    assert read_frames(CARPHONE, []) == []


def test_skeleton_from_parents():
    from glot.body.joints import SMPL_PARENTS, SPIN_JOINT_NAMES

    bones = {(SPIN_JOINT_NAMES[a], SPIN_JOINT_NAMES[b]) for a, b in skeleton_bones(np.array(SMPL_PARENTS))}
    assert ("OP RElbow", "OP RWrist") in bones and ("OP LHip", "OP LKnee") in bones
    assert ("OP MidHip", "OP Neck") in bones  # via the spine joints SPIN lacks
    assert len(bones) == 13


def test_acceleration_and_difference_numbers():
    t = np.arange(6, dtype=np.float64)
    x = np.zeros((6, 2, 3))
    x[:, 0, 0] = 0.001 * t ** 2  # constant acceleration 2 mm/frame²
    x[3] = np.nan  # a gap
    acc = joint_acceleration(x)
    assert np.isnan(acc[[0, 2, 3, 4, 5]]).all() and np.allclose(acc[1], [2.0, 0.0])
    y = x + np.array([0.003, 0.004, 0.0])  # 5 mm apart
    assert np.allclose(branch_difference(x, y)[[0, 1, 2, 4, 5]], 5.0)


def test_figures_and_summary(base):
    _, view, _ = base
    j = view.joints3d(0)
    acc = acceleration_figure(j, view.occluded, marker=5)
    assert [tr.name for tr in acc.data] == ["global branch", "final (local-corrected)"]
    expect = joint_acceleration(j["final"])[1:-1].mean(1)  # every frame has a person
    assert np.allclose(np.asarray(acc.data[1].y, float)[1:-1], expect)
    assert all("frame %{x}" in tr.hovertemplate for tr in acc.data)
    assert [(sh.x0, sh.x1) for sh in acc.layout.shapes] == [(5, 5)]  # the shared cursor's marker
    heat = heatmap_figure(j)
    assert np.asarray(heat.data[0].z).shape == (49, N)
    diff = difference_figure(j)
    assert np.allclose(np.asarray(diff.data[0].y, float), branch_difference(j["global"], j["final"]))
    branch_rows, run_rows = rv.summary_rows(view)
    mean_final = expect.mean()
    assert branch_rows[0][0].startswith("mean acceleration") and float(branch_rows[0][2]) == pytest.approx(mean_final, abs=0.06)
    rows = dict(run_rows)
    assert rows["frames with a person"] == str(N) and "seconds: features" in rows and "seconds: total" in rows
    assert rows["people tracked"] == "1" and rows["tracks (id: frames)"] == f"1 (0–{N - 1})"


def test_block_mask_changes_global_on_masked_frames_not_input(pipeline_bundle, session, base):
    _, view0, data0 = base
    view = _run(pipeline_bundle, session, mask_pattern="block", mask_ratio=0.25)
    occ = view.occluded
    assert np.flatnonzero(occ).tolist() == [6, 7, 8, 9]  # round(0.25 * 16) frames centred in 16
    g = np.load(view.files["results"])["global_pose"][0]
    changed = np.abs(g - data0["global_pose"][0]).max(1) > 1e-5
    assert changed[occ].all()
    # the input is untouched: the overlay's input panel equals the unmasked run's
    import av

    with av.open(str(view.files["overlay"])) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")[:, :176]
    assert np.abs(first.astype(int) - read_frame(CARPHONE, 0.0).astype(int)).mean() < 6
    assert acceleration_figure(view.joints3d(0), occ).layout.shapes  # masked frames shaded


def test_runs_are_deterministic(pipeline_bundle, session, base):
    """Same settings -> bit-identical results, so any difference below comes from the control."""
    _, _, data0 = base
    r = np.load(_run(pipeline_bundle, session).files["results"])
    assert np.array_equal(r["global_pose"], data0["global_pose"]) and np.array_equal(r["final_pose"], data0["final_pose"])


@pytest.mark.parametrize("change, changed", [
    (dict(window=12), {"global", "final"}),
    (dict(local_width=2), {"final"}),  # the global branch never sees w
    (dict(edge="official"), {"global", "final"}),
    (dict(precision="bf16"), {"global", "final"}),
    (dict(mask_pattern="random", mask_ratio=0.5, seed=1), {"global", "final"}),
])
def test_each_control_changes_results(pipeline_bundle, session, base, change, changed):
    _, _, data0 = base
    view = _run(pipeline_bundle, session, **change)
    r = np.load(view.files["results"])
    for b in ("global", "final"):
        assert r[f"{b}_pose"].shape == data0[f"{b}_pose"].shape
        assert (not np.array_equal(r[f"{b}_pose"], data0[f"{b}_pose"])) == (b in changed), (change, b)
    for k, v in change.items():
        key = {"precision": "backbone_bf16"}.get(k)
        assert (view.summary[key] if key else view.summary["options"][k]) == (True if v == "bf16" else v)
    if "seed" in change:  # another seed draws another mask
        other = _run(pipeline_bundle, session, **{**change, "seed": 2})
        assert np.abs(_pose(other, "global") - r["global_pose"]).max() > 1e-4


def test_max_frames_and_person_box(pipeline_bundle, session):
    view = _run(pipeline_bundle, session, max_frames=9, preselect=h.parse_box("40, 10, 150, 144"))
    assert view.num_frames == 9 and np.load(view.files["results"])["frame_index"].tolist() == list(range(9))
    assert view.selected == 0  # the box is over the only person: shown first


def test_options_validation():
    assert h.parse_box("") is None and h.parse_box("10,20,30,60") == (20.0, 40.0, 20.0, 40.0)
    with pytest.raises(h.InputError, match="x0, y0, x1, y1"):
        h.parse_box("10, 20")
    with pytest.raises(h.InputError, match="shorter than the local window"):
        h.make_options(6, 4, 0, "none", 0, "clamp", "fp32", 0)
    with pytest.raises(h.InputError, match="mask ratio"):
        h.make_options(16, 4, 1.2, "none", 0, "clamp", "fp32", 0)
    with pytest.raises(h.InputError, match="upload a video"):
        h.check_video(None, h.make_options(16, 4, 0, "none", 0, "clamp", "fp32", 0))
    assert h.make_options(16, 4, 0, "none", 0, "clamp", "fp32", 0, 3).max_people == 3


def test_limits(tmp_path, monkeypatch):
    opts = h.make_options(16, 4, 0, "none", 0, "clamp", "fp32", 0)
    assert h.check_video(CARPHONE, opts).frame_limit == int(h.MAX_SECONDS * 29.97)
    monkeypatch.setattr(h, "MAX_SECONDS", 2.0)
    with pytest.raises(h.InputError, match="the clip has 120 frames .4 s at 30 fps, 176×144.; the limit is 59 frames"):
        h.check_video(CARPHONE, opts)
    assert h.check_video(CARPHONE, h.make_options(16, 4, 0, "none", 0, "clamp", "fp32", 30)).max_frames == 30
    monkeypatch.setattr(h, "MAX_SECONDS", 60.0)
    monkeypatch.setattr(h, "MAX_MEGAPIXEL_FRAMES", 176 * 144 * 100 / 1e6)  # 100 frames of this size
    with pytest.raises(h.InputError, match="the limit is 100 frames of this size"):
        h.check_video(CARPHONE, opts)
    monkeypatch.setattr(h, "MAX_LONG_SIDE", 160)
    with pytest.raises(h.InputError, match="176×144"):
        h.check_video(CARPHONE, opts)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    from glot.video import VideoError

    with pytest.raises(VideoError):
        h.check_video(bad, opts)


def test_model_cache_is_lazy_and_reports_missing_files(tmp_path, pipeline_assets, monkeypatch):
    monkeypatch.delenv("GLOT_ASSETS", raising=False)
    monkeypatch.delenv("GLOT_HF_REPO", raising=False)
    calls = []

    def loader(**kw):
        calls.append(kw)
        from glot.pipeline import load_bundle

        return load_bundle(model="official", **kw)  # no fallback to the open model here

    empty = h.ModelCache(assets_dir=tmp_path, device="cpu", loader=loader)
    report = h.model_report(empty)
    assert not calls and "Missing" in report and "GLoT weights" in report and "GLOT_ASSETS" in report
    with pytest.raises(AssetNotFoundError, match="table1_3dpw_weights"):
        empty.get()
    full = h.ModelCache(assets_dir=pipeline_assets, device="cpu", loader=loader)
    assert "All files found" in h.model_report(full)
    b = full.get()
    assert full.get() is b and len(calls) == 2
    assert "Model loaded" in h.model_report(full) and "table1_3dpw_weights" in h.model_report(full)


def test_session_keeps_only_the_latest_run(pipeline_bundle):
    s = new_session()
    a = _run(pipeline_bundle, s, max_frames=4)
    b = _run(pipeline_bundle, s, max_frames=4)
    assert not a.out_dir.exists() and b.out_dir.is_dir() and b.out_dir.parent == s.root
    close_session(s)
    assert not s.root.exists()
    close_session(None)


def test_motion_viewer_gets_the_file_without_its_camera(base):
    """Gradio's viewer frames the whole scene: the copy it plays drops the video's camera, nothing else."""
    from glot.export.gltf import unpack_glb
    from helpers_export import read_glb, validate_gltf

    _, view, _ = base
    path = view.files["motion_final.glb"]
    out = rv.viewer_motion(path)
    assert out.name == path.name and out.parent == path.parent / "viewer"
    orig, orig_bin = read_glb(path.read_bytes())
    copy, copy_bin = read_glb(out.read_bytes())
    assert unpack_glb(path.read_bytes()) == (orig, orig_bin)  # our reader agrees with the tests' own
    assert "cameras" in orig and "cameras" not in copy and copy_bin == orig_bin
    cam = next(i for i, n in enumerate(orig["nodes"]) if "camera" in n)
    assert cam in orig["scenes"][0]["nodes"] and cam not in copy["scenes"][0]["nodes"]
    assert copy["scenes"][0]["nodes"] == [i for i in orig["scenes"][0]["nodes"] if i != cam]
    for key in ("animations", "skins", "meshes", "accessors", "bufferViews", "materials"):
        assert copy[key] == orig[key]
    (report,) = validate_gltf([out])
    assert report["issues"]["numErrors"] == 0
    stamp = out.stat().st_mtime_ns
    assert rv.viewer_motion(path) == out and out.stat().st_mtime_ns == stamp  # written once
