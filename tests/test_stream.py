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


def _stream(bundle, future):
    runner = OnlineRunner(bundle, StreamOptions(future=future, bf16=False))
    out = []
    try:
        for fr in iter_frames(CARPHONE):
            if fr.index >= N:
                break
            got = runner.push(fr.image, fr.time)
            for g in got:
                assert g.index <= fr.index and g.latency_frames == fr.index - g.index
            out.extend(got)
        out.extend(runner.flush())
    finally:
        runner.close()
    return runner, out


def test_streamed_outputs_equal_offline(pipeline_bundle, offline):
    runner, out = _stream(pipeline_bundle, None)
    assert runner.k == 7  # T - T//2 - 1 for T = 16
    assert [o.index for o in out] == list(range(N))
    assert max(o.latency_frames for o in out) == 7
    for b, attr in (("global", "global_"), ("final", "final")):
        got = np.concatenate([getattr(o, attr).pose for o in out])
        assert np.abs(got - offline[f"{b}_pose"]).max() < 1e-4
        j3 = np.concatenate([getattr(o, attr).joints3d for o in out])
        assert np.abs(j3 - offline[f"{b}_joints3d"]).max() < 1e-4
    boxes = np.stack([o.box for o in out])
    assert np.allclose(boxes, offline["box"], atol=1e-3)


def test_low_latency_mode(pipeline_bundle, offline):
    runner, out = _stream(pipeline_bundle, 0)
    live = [o for o in out if o.index < N - 1]
    assert all(o.latency_frames == 0 for o in live)  # emitted on arrival
    final = np.concatenate([o.final.pose for o in out])
    # without look-ahead the window's future is clamped: outputs differ from offline mid-clip
    assert np.abs(final[8:24] - offline["final_pose"][8:24]).max() > 1e-4
    assert np.isfinite(final).all()
    with pytest.raises(Exception, match="look-ahead"):
        OnlineRunner(pipeline_bundle, StreamOptions(future=9))


def test_stream_cli_writes_results(pipeline_assets, tmp_path):
    out = tmp_path / "live"
    r = subprocess.run([sys.executable, "-m", "glot", "stream", "--source", str(CARPHONE), "--out", str(out),
                        "--assets", str(pipeline_assets), "--device", "cpu", "--fp32", "--max-frames", "24"],
                       capture_output=True, text=True, timeout=600, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    res = np.load(out / "results.npz")
    assert res["frame_index"].tolist() == list(range(24))
    assert res["final_joints2d"].shape == (24, 49, 2) and res["segments"].tolist() == [[0, 24]]
    s = json.loads((out / "summary.json").read_text())
    assert s["frames_processed"] == 24 and s["frames_emitted"] == 24 and s["frames_dropped"] == 0
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
    assert [o.index for o in out] == list(range(10))
    assert np.isfinite(np.concatenate([o.final.joints3d for o in out])).all()
