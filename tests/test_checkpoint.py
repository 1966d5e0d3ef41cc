"""Official-format checkpoints: loading, size detection, strict errors, assets, the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from glot.assets import AssetNotFoundError
from glot.body import MeanParams
from glot.checkpoint import CheckpointError, load_glot, official_state_dict, read_state_dict, save_official_checkpoint
from glot.config import GLoTConfig
from glot.model import GLoT

from helpers_model import body_from_section

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("theta", "verts", "kp_2d", "kp_3d", "rotmat")


@pytest.fixture(scope="module")
def official_file(ref, tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "table1_3dpw_weights.pth.tar"
    torch.save({"epoch": 7, "gen_state_dict": ref["state_dict"], "performance": np.float64(44.1)}, path)
    return path


def test_official_file_with_embedded_body_gives_official_numbers(ref, official_file, smpl_assets):
    model, info = load_glot(official_file, assets_dir=smpl_assets, return_info=True)
    assert info.body_source == "checkpoint" and info.config.d_model == 64
    with torch.no_grad():
        out = model(ref["eval"]["features"])
    for k in FIELDS:
        assert (getattr(out.final, k) - ref["eval"]["final"][k]).abs().max() <= 1e-5
        assert (getattr(out.global_, k) - ref["eval"]["global"][k]).abs().max() <= 1e-5
    assert list(official_state_dict(model)) == list(ref["state_dict"])


def test_checkpoint_without_body_uses_smpl_files(ref, tmp_path, smpl_assets):
    sd = {k: v for k, v in ref["state_dict"].items() if ".smpl." not in k}
    path = tmp_path / "nobody.pth.tar"
    torch.save({"gen_state_dict": sd}, path)
    model, info = load_glot(path, assets_dir=smpl_assets, return_info=True)
    assert info.body_source.endswith("SMPL_NEUTRAL.pkl")
    with torch.no_grad():
        out = model(ref["eval"]["features"])
    assert (out.final.verts - ref["eval"]["final"]["verts"]).abs().max() <= 1e-5
    with pytest.raises(AssetNotFoundError) as err:
        load_glot(path, assets_dir=tmp_path / "empty")
    msg = str(err.value)
    assert "SMPL_NEUTRAL.pkl" in msg and str(tmp_path / "empty") in msg and "smplify.is.tue.mpg.de" in msg


def test_mean_params_fall_back_to_checkpoint_buffers(ref, official_file, tmp_path):
    model, info = load_glot(official_file, assets_dir=tmp_path, return_info=True)
    assert info.mean_source == "checkpoint"
    mp = ref["smpl"]["mean_params"]
    expect = torch.cat([mp["pose"].float(), mp["shape"].float(), mp["cam"].float()])
    assert torch.allclose(model.global_modeling.trans.mask_token_input.flatten(), expect)


def test_gender_switch_reads_that_smpl_file(ref, official_file, smpl_assets, tmp_path):
    import shutil

    folder = tmp_path / "assets"
    shutil.copytree(smpl_assets, folder)
    import pickle

    with open(folder / "SMPL_NEUTRAL.pkl", "rb") as fh:
        data = pickle.load(fh)
    data["v_template"] = data["v_template"] * 1.1
    with open(folder / "SMPL_MALE.pkl", "wb") as fh:
        pickle.dump(data, fh)
    model = load_glot(official_file, assets_dir=folder, gender="male")
    assert torch.allclose(model.body.v_template, torch.from_numpy(data["v_template"]))
    with pytest.raises(AssetNotFoundError, match="SMPL_FEMALE"):
        load_glot(official_file, assets_dir=folder, gender="female")


def _random_model(cfg: GLoTConfig, ref) -> GLoT:
    torch.manual_seed(0)
    model = GLoT(cfg, body_from_section(ref["smpl"]), MeanParams.identity()).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".smpl." not in n:  # fan-in scaled, so attention is far from uniform
                p.normal_(0, p.shape[-1] ** -0.5 if p.ndim > 1 else 0.1)
    return model


def test_config_detection_for_non_default_sizes(ref, tmp_path, smpl_assets):
    cfg = GLoTConfig(seqlen=24, n_layers=4, d_model=96, num_head=4, short_n_layers=2, short_d_model=64,
                     short_num_head=4, stride_short=3, feature_dim=2048)
    model = _random_model(cfg, ref)
    path = save_official_checkpoint(model, tmp_path / "other.pth.tar")
    (tmp_path / "cfg.yaml").write_text("MODEL:\n  num_head: 4\n  short_num_head: 4\nDATASET:\n  SEQLEN: 24\n")
    loaded = load_glot(path, config=tmp_path / "cfg.yaml", assets_dir=smpl_assets)
    for k in ("seqlen", "n_layers", "d_model", "num_head", "short_n_layers", "short_d_model", "stride_short"):
        assert getattr(loaded.cfg, k) == getattr(cfg, k), k
    x = torch.randn(2, 24, 2048)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.allclose(a.final.verts, b.final.verts, atol=1e-6)
    # a JSON config works too; a contradicting size is refused
    (tmp_path / "cfg.json").write_text(json.dumps({"num_head": 4, "short_num_head": 4}))
    load_glot(path, config=tmp_path / "cfg.json", assets_dir=smpl_assets)
    (tmp_path / "bad.json").write_text(json.dumps({"num_head": 4, "short_num_head": 4, "seqlen": 16}))
    with pytest.raises(CheckpointError, match="seqlen=16.*seqlen=24"):
        load_glot(path, config=tmp_path / "bad.json", assets_dir=smpl_assets)
    # wrong head count (not visible in shapes) changes results: it is a real setting
    wrong = load_glot(path, config={"num_head": 8, "short_num_head": 4}, assets_dir=smpl_assets)
    with torch.no_grad():
        assert (wrong(x).final.verts - a.final.verts).abs().max() > 1e-4


def test_bad_checkpoints_name_the_problem(ref, tmp_path, official_file):
    sd = dict(ref["state_dict"])
    sd["regressor.fc1.weight"] = torch.zeros(1024, 999)
    bad = tmp_path / "shape.pth.tar"
    torch.save({"gen_state_dict": sd}, bad)
    with pytest.raises(CheckpointError) as err:
        load_glot(bad)
    assert "regressor.fc1.weight" in str(err.value) and "(1024, 266)" in str(err.value) and "(1024, 999)" in str(err.value)

    sd = {k: v for k, v in ref["state_dict"].items() if k != "regressor.deccam.bias"}
    miss = tmp_path / "missing.pth.tar"
    torch.save({"gen_state_dict": sd}, miss)
    with pytest.raises(CheckpointError, match="missing key 'regressor.deccam.bias'"):
        load_glot(miss)

    trunc = tmp_path / "trunc.pth.tar"
    trunc.write_bytes(official_file.read_bytes()[:50000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_state_dict(trunc)
    empty = tmp_path / "empty.pth.tar"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_state_dict(empty)
    other = tmp_path / "other.pth"
    torch.save({"model": {"conv1.weight": torch.zeros(1)}}, other)
    with pytest.raises(CheckpointError, match="not a GLoT checkpoint"):
        read_state_dict(other)
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "nope.pth.tar")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "glot", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_cli_predict_features(ref, official_file, smpl_assets, tmp_path):
    feats = tmp_path / "f.npy"
    np.save(feats, ref["eval"]["features"].numpy())
    for h36m, suffix in ((False, ""), (True, "_h36m")):
        out = tmp_path / f"out{suffix}.npz"
        args = ["predict-features", "--checkpoint", str(official_file), "--assets", str(smpl_assets),
                "--features", str(feats), "--out", str(out), "--device", "cpu"] + (["--h36m"] if h36m else [])
        r = _cli(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        res = np.load(out)
        for branch in ("final", "global"):
            rec = ref["eval"][branch + suffix]
            for k in FIELDS:
                expect = rec[k].numpy()
                if branch == "global":
                    expect = expect[:, 0]
                assert res[f"{branch}_{k}"].shape == expect.shape
                assert np.abs(res[f"{branch}_{k}"] - expect).max() <= 1e-5, (branch, k)
    r = _cli("predict-features", "--checkpoint", str(tmp_path / "nope.pth"), "--features", str(feats),
             "--out", str(tmp_path / "x.npz"), cwd=tmp_path)
    assert r.returncode == 2 and "checkpoint not found" in r.stderr and "Traceback" not in r.stderr
    np.save(tmp_path / "bad.npy", np.zeros((2, 16, 100), np.float32))
    r = _cli("predict-features", "--checkpoint", str(official_file), "--features", str(tmp_path / "bad.npy"),
             "--out", str(tmp_path / "x.npz"), "--assets", str(smpl_assets), cwd=tmp_path)
    assert r.returncode == 2 and "(B, T, 2048)" in r.stderr
