"""Online mode: equality with the offline pipeline, latency, the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glot.pipeline import RunOptions, run_video
from glot.stream import OnlineRunner, StreamOptions
from glot.video import iter_frames

from conftest import CARPHONE

REPO = Path(__file__).resolve().parents[1]
N = 32


@pytest.fixture(scope="module")
def offline(pipeline_bundle, tmp_path_factory):
    res = run_video(CARPHONE, tmp_path_factory.mktemp("off"), pipeline_bundle,
                    RunOptions(max_frames=N, bf16=False, box_smoothing=0, render=False, meshes="none"))
    return np.load(res.out_dir / "results.npz")


def _stream(bundle, future, frames=None, overlap=False, **kw):
    runner = OnlineRunner(bundle, StreamOptions(future=future, bf16=False, overlap=overlap, **kw))
    out = []
    frames = frames if frames is not None else [fr for fr in iter_frames(CARPHONE) if fr.index < N]
    try:
        for fr in frames:
            got = runner.push(fr.image, fr.time)
            for g in got:
                assert g.index <= fr.index and g.latency_frames == fr.index - g.index
            out.extend(got)
        out.extend(runner.flush())
    finally:
        runner.close()
    return runner, out


def _per_person(out, offline):
    """Streamed frames of each offline track: they exist exactly where offline has estimates."""
    assert sorted({o.track_id for o in out}) == offline["track_id"].tolist()
    for p, tid in enumerate(offline["track_id"]):
        mine = sorted((o for o in out if o.track_id == tid), key=lambda o: o.index)
        assert [o.index for o in mine] == np.flatnonzero(offline["valid"][p]).tolist(), tid
        yield p, mine


def _assert_equal_offline(out, offline):
    for p, mine in _per_person(out, offline):
        v = offline["valid"][p]
        for b, attr in (("global", "global_"), ("final", "final")):
            got = np.concatenate([getattr(o, attr).pose for o in mine])
            assert np.abs(got - offline[f"{b}_pose"][p][v]).max() < 1e-4
            j3 = np.concatenate([getattr(o, attr).joints3d for o in mine])
            assert np.abs(j3 - offline[f"{b}_joints3d"][p][v]).max() < 1e-4
        assert np.allclose(np.stack([o.box for o in mine]), offline["box"][p][v], atol=1e-3)


def test_streamed_outputs_equal_offline(pipeline_bundle, offline, monkeypatch):
    rows = []
    crop_features = type(pipeline_bundle).crop_features

    def counted(self, crops, bf16=None):
        rows.append(len(crops))
        return crop_features(self, crops, bf16)

    monkeypatch.setattr(type(pipeline_bundle), "crop_features", counted)
    runner, out = _stream(pipeline_bundle, None)
    # the ResNet ran once per frame the offline pass keeps, on nobody else (false finds wait for a
    # verification that never comes)
    assert sum(rows) == offline["valid"].sum()
    assert runner.k == 7  # T - T//2 - 1 for T = 16
    # a new person is shown once seen on min_track_frames (10) frames, as offline keeps them; then k frames late
    assert max(o.latency_frames for o in out) == runner.cfg.min_track_frames - 1
    assert {o.latency_frames for o in out if 2 <= o.index < N - 7} == {7}
    _assert_equal_offline(out, offline)


def test_streamed_equals_offline_for_every_person(pipeline_bundle, tmp_path, monkeypatch):
    """Two people side by side, one hidden for 10 frames (a gap longer than max_gap: two segments)."""
    from glot.render import VideoWriter

    frames = [fr for fr in iter_frames(CARPHONE) if fr.index < 40]
    canvas = []
    for k, fr in enumerate(frames):
        img = np.zeros((144, 352, 3), np.uint8)
        img[:, :176] = fr.image
        img[:, 176:] = frames[(k + 17) % len(frames)].image  # the same man, 17 frames later
        if 14 <= k < 24:
            img[:, 176:] = 0  # the second person hidden for 10 frames
        canvas.append(img)
    clip = tmp_path / "two.mp4"
    with VideoWriter(clip, fps=25, preset="ultrafast", crf=12) as w:
        for img in canvas:
            w.write(img)
    res = run_video(clip, tmp_path / "off", pipeline_bundle,
                    RunOptions(bf16=False, box_smoothing=0, render=False, meshes="none"))
    offline = np.load(res.out_dir / "results.npz")
    assert len(offline["track_id"]) == 2 and {len(s) for s in res.summary["tracks"] for s in [s["segments"]]} == {1, 2}
    decoded = list(iter_frames(clip))
    rows = []
    crop_features = type(pipeline_bundle).crop_features
    monkeypatch.setattr(type(pipeline_bundle), "crop_features",
                        lambda self, crops, bf16=None: rows.append(len(crops)) or crop_features(self, crops, bf16))
    for overlap in (False, True):  # the tracker in its own thread gives the same predictions
        _, out = _stream(pipeline_bundle, None, frames=decoded, overlap=overlap)
        _assert_equal_offline(out, offline)
        assert max(rows) == 2  # both people's crops of a frame in one ResNet batch
        rows.clear()


def test_low_latency_mode(pipeline_bundle, offline):
    runner, out = _stream(pipeline_bundle, 0)
    live = [o for o in out if runner.cfg.min_track_frames <= o.index < N - 1]
    assert all(o.latency_frames == 0 for o in live)  # emitted on arrival (once the person is confirmed)
    final = np.concatenate([o.final.pose for o in sorted(out, key=lambda o: o.index)])
    # without look-ahead the window's future is clamped: outputs differ from offline mid-clip
    assert np.abs(final[8:24] - offline["final_pose"][0, 8:24]).max() > 1e-4
    assert np.isfinite(final).all()
    with pytest.raises(Exception, match="look-ahead"):
        OnlineRunner(pipeline_bundle, StreamOptions(future=9))


def test_windows_at_the_trained_rate_by_timestamp(pipeline_bundle):
    """A 10 fps stream with window_fps=30: each window slot takes the frame nearest in time."""
    frames = [fr for fr in iter_frames(CARPHONE) if fr.index < 30]
    slow = [type(fr)(index=k, time=k * 0.1, image=fr.image) for k, fr in enumerate(frames)]  # 10 fps
    runner = OnlineRunner(pipeline_bundle, StreamOptions(bf16=False, overlap=False, window_fps=30.0))
    try:
        for fr in slow:
            runner.push(fr.image, fr.time)
        # frame 15 at 1.5 s: slots at 1.5 + (j - 8) / 30 s -> frames round(15 + (j - 8) / 3)
        win = runner._window(15, 0, 29)
        expect = [int(np.floor(15 + (j - 8) / 3 + 0.5 - 1e-9)) for j in range(16)]
        assert win.tolist() == expect
        runner.flush()
    finally:
        runner.close()


def test_stream_cli_writes_results(pipeline_assets, tmp_path):
    out = tmp_path / "live"
    r = subprocess.run([sys.executable, "-m", "glot", "stream", "--source", str(CARPHONE), "--out", str(out),
                        "--assets", str(pipeline_assets), "--device", "cpu", "--fp32", "--max-frames", "24"],
                       capture_output=True, text=True, timeout=600, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    res = np.load(out / "results.npz")
    assert res["frame_index"].tolist() == list(range(24))
    assert res["final_joints2d"].shape == (1, 24, 49, 2) and res["segments"].tolist() == [[0, 0, 24]]
    s = json.loads((out / "summary.json").read_text())
    assert s["frames_processed"] == 24 and s["frames_emitted"] == 24 and s["frames_dropped"] == 0
    assert s["people"] == 1 and s["window_fps"] is None and s["search"] == "tiles"  # a file: tiles too
    assert list((out / "parts").glob("results_*.npz"))


def test_training_can_target_a_look_ahead():
    """The training data option matching the low-latency mode: positions after centre + k repeat it."""
    import torch

    from glot.train.config import TrainConfig
    from glot.train.data import SequenceDataset

    assert "future_frames" in TrainConfig.__dataclass_fields__
    feats = np.arange(40, dtype=np.float32)[:, None].repeat(3, 1)
    full = SequenceDataset({"features": feats}, seqlen=16)
    low = SequenceDataset({"features": feats}, seqlen=16, future_frames=2)
    a, b = full[0]["features"][:, 0], low[0]["features"][:, 0]
    assert torch.equal(a[:11], b[:11]) and (b[11:] == a[10]).all()
    with pytest.raises(ValueError):
        SequenceDataset({"features": feats}, seqlen=16, future_frames=8)


def test_stream_with_the_open_model(tmp_path, monkeypatch):
    """With no licensed file the online mode runs the shipped open model on landmark features."""
    from glot.pipeline import load_bundle

    monkeypatch.setenv("GLOT_ASSETS", str(tmp_path))
    bundle = load_bundle(device="cpu")
    assert bundle.is_open_model
    runner = OnlineRunner(bundle, StreamOptions(future=2))
    out = []
    try:
        for fr in iter_frames(CARPHONE):
            if fr.index >= 10:
                break
            out.extend(runner.push(fr.image, fr.time))
        out.extend(runner.flush())
    finally:
        runner.close()
    assert sorted(o.index for o in out) == list(range(10))  # a 10-frame stream is one piece
    assert np.isfinite(np.concatenate([o.final.joints3d for o in out])).all()
