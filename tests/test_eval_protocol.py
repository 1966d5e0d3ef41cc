"""Evaluation windows: the official evaluate.py protocol (reversed tail, short videos skipped) and
the clean one, against windows derived by hand from the official code, and scored end to end."""
from __future__ import annotations

from types import SimpleNamespace

import joblib
import numpy as np
import pytest
import torch

from glot.train import eval_window_indices, evaluate_database
from glot.train.data import official_eval_windows


def test_official_windows_hand_derived_short_example():
    # N = 10 frames, T = 8, from split_into_chunks_test (stride 1) + get_sequence:
    # front [0, 3+j] left-padded with 0; full [s, s+7]; end [9-(4+j), 9] right-padded with 9
    expect = [
        [0, 0, 0, 0, 0, 1, 2, 3],  # [0, 3]
        [0, 0, 0, 0, 1, 2, 3, 4],  # [0, 4]
        [0, 0, 0, 1, 2, 3, 4, 5],  # [0, 5]
        [0, 0, 1, 2, 3, 4, 5, 6],  # [0, 6]
        [0, 1, 2, 3, 4, 5, 6, 7],  # [0, 7] full
        [1, 2, 3, 4, 5, 6, 7, 8],  # [1, 8]
        [2, 3, 4, 5, 6, 7, 8, 9],  # [2, 9]
        [5, 6, 7, 8, 9, 9, 9, 9],  # [5, 9]: centre 9
        [4, 5, 6, 7, 8, 9, 9, 9],  # [4, 9]: centre 8
        [3, 4, 5, 6, 7, 8, 9, 9],  # [3, 9]: centre 7
    ]
    assert official_eval_windows(10, 8).tolist() == expect
    assert eval_window_indices(10, 8, "official").tolist() == expect
    clean = eval_window_indices(10, 8, "clean")
    assert clean[:7].tolist() == expect[:7]  # front and full windows: the same as clamping
    assert clean[7:].tolist() == [[3, 4, 5, 6, 7, 8, 9, 9], [4, 5, 6, 7, 8, 9, 9, 9], [5, 6, 7, 8, 9, 9, 9, 9]]
    assert clean[:, 4].tolist() == list(range(10))  # clean: row i is centred on frame i


def test_official_windows_seqlen_16_reverse_the_last_seven():
    w = official_eval_windows(20, 16)
    assert w.shape == (20, 16)
    # the centre (index 8) of each row: frames 0..12 in order, then 19, 18, ..., 13
    assert w[:, 8].tolist() == list(range(13)) + [19, 18, 17, 16, 15, 14, 13]
    assert w[0].tolist() == [0] * 9 + list(range(1, 8))  # [0, 7] padded with 8 zeros
    assert w[13].tolist() == list(range(11, 20)) + [19] * 7  # [11, 19]
    assert w[19].tolist() == list(range(5, 20)) + [19]  # [5, 19]
    assert official_eval_windows(16, 16)[:, 8].tolist() == list(range(9)) + [15, 14, 13, 12, 11, 10, 9]
    # shorter than the window: skipped by the official script, scored by the clean protocol
    assert official_eval_windows(15, 16).shape == (0, 16)
    assert eval_window_indices(5, 16, "clean").shape == (5, 16)
    with pytest.raises(ValueError, match="protocol"):
        eval_window_indices(20, 16, "nearest")


# ---------------------------------------------------------------------------- scoring, end to end
T = 16
J = 14
_SPEED = np.zeros((J, 3), np.float32)
_SPEED[:, 0] = 0.001 * np.arange(J)  # joint j moves 1 mm * j per frame along x
_SPEED[2:4] = 0.0  # the hips (the pelvis) stay put, so pelvis alignment keeps the motion
C = 1000.0 * float(np.linalg.norm(_SPEED, axis=1).mean())  # mm of mean joint error per frame of offset


def _joints(n: int, seed: int) -> np.ndarray:
    """``(n, 14, 3)`` joints moving linearly in time: frame i = base + i * speed."""
    base = np.random.default_rng(seed).normal(0, 0.3, (J, 3)).astype(np.float32)
    return base[None] + np.arange(n, dtype=np.float32)[:, None, None] * _SPEED[None]


class CentreFrameModel(torch.nn.Module):
    """Stands in for GLoT: predicts the joints stored in the features of its window's centre frame."""

    def __init__(self) -> None:
        super().__init__()
        self.cfg = SimpleNamespace(seqlen=T)
        self.device = torch.device("cpu")
        self.body = None

    def forward(self, features, is_train=False, J_regressor=None, need_verts=True, need_global_verts=True):
        kp = features[:, T // 2].reshape(len(features), J, 3)
        return SimpleNamespace(final=SimpleNamespace(kp_3d=kp, verts=None))


def _db(lengths: dict[str, int]) -> dict[str, np.ndarray]:
    j3 = np.concatenate([_joints(n, i) for i, n in enumerate(lengths.values())])
    return {"features": j3.reshape(len(j3), -1), "joints3D": j3,
            "vid_name": np.concatenate([[name] * n for name, n in lengths.items()])}


def test_official_protocol_scores_the_reversed_tail_against_in_order_targets():
    db = _db({"long": 20, "short": 12})
    jreg = torch.zeros(17, 1)  # not used by the stand-in
    clean = evaluate_database(CentreFrameModel(), db, "h36m", jreg, protocol="clean")
    official = evaluate_database(CentreFrameModel(), db, "h36m", jreg)  # the default
    # clean: every prediction is its own frame: no error anywhere, both videos scored
    assert clean.num_frames == 32 and set(clean.per_video) == {"long", "short"}
    assert clean.mpjpe < 1e-6 and clean.accel_err < 1e-6
    # official: the 12-frame video is skipped; rows 13..19 hold frames 19..13, so row i is off by
    # |(32 - i) - i| = |32 - 2i| frames of linear motion
    assert official.num_frames == 20 and set(official.per_video) == {"long"}
    got = official.per_video["long"]
    np.testing.assert_allclose(got["mpjpe"], [0.0] * 13 + [6 * C, 4 * C, 2 * C, 0.0, 2 * C, 4 * C, 6 * C], atol=1e-3)
    # acceleration at rows 1..18: predicted frames 11, 12, 19 at rows 11..13 -> 11 - 24 + 19 = 6;
    # frames 12, 19, 18 at rows 12..14 -> 12 - 38 + 18 = -8; the reversed run itself is linear
    accel = np.zeros(18)
    accel[12 - 1], accel[13 - 1] = 6 * C, 8 * C
    np.testing.assert_allclose(got["accel_err"], accel, atol=1e-3)
    assert official.mpjpe == pytest.approx(24 * C / 20, abs=1e-3)
    assert official.accel_err == pytest.approx(14 * C / 18, abs=1e-3)


def test_official_protocol_windows_the_valid_frames_only():
    db = _db({"long": 21, "edge": 17})
    valid = np.ones(38, bool)
    valid[0] = False  # "long" keeps 20 frames (still moving linearly)
    valid[21 + 5] = False  # "edge" keeps 16 of 17: still scored
    db["valid"] = valid
    res = evaluate_database(CentreFrameModel(), db, "h36m", torch.zeros(17, 1))
    assert res.num_frames == 36
    tail = res.per_video["long"]["mpjpe"][13:]
    np.testing.assert_allclose(tail, [6 * C, 4 * C, 2 * C, 0.0, 2 * C, 4 * C, 6 * C], atol=1e-3)
    # 16 frames: one full window, rows 9..15 predict frames 15..9
    assert len(res.per_video["edge"]["mpjpe"]) == 16
    db["valid"][21 + 6] = False  # 15 frames left: not scored
    assert set(evaluate_database(CentreFrameModel(), db, "h36m", torch.zeros(17, 1)).per_video) == {"long"}
    only_short = _db({"a": 10, "b": 15})
    with pytest.raises(ValueError, match="shorter than 16 frames"):
        evaluate_database(CentreFrameModel(), only_short, "h36m", torch.zeros(17, 1))


def test_videos_are_grouped_by_name_as_evaluate_py():
    # the same name in two runs is one video (official ``vid_name == name``), not two that overwrite
    db = _db({"x": 10, "y": 16})
    db["vid_name"][:10] = "y"
    db["joints3D"][:10] += 5.0  # its frames do not continue "y"'s motion, yet they are one video
    res = evaluate_database(CentreFrameModel(), db, "h36m", torch.zeros(17, 1), protocol="clean")
    assert set(res.per_video) == {"y"} and len(res.per_video["y"]["mpjpe"]) == 26


# ---------------------------------------------------------------------------- command line
TINY = dict(seqlen=8, n_layers=2, d_model=32, num_head=4, short_n_layers=1, short_d_model=32, short_num_head=4,
            stride_short=2, feature_dim=42, dropout=0.0, drop_path_r=0.0, short_dropout=0.0, short_drop_path_r=0.0,
            drop_reg_short=0.0)


def test_cli_protocol_flag(tmp_path, smpl_assets, capsys):
    from glot.checkpoint import load_glot, load_h36m_regressor, save_official_checkpoint
    from glot.cli import main
    from glot.config import GLoTConfig
    from glot.train import build_model

    torch.manual_seed(0)
    model = build_model(GLoTConfig(**TINY), smpl_assets)
    ckpt = save_official_checkpoint(model, tmp_path / "m.pth.tar")
    cfg_file = tmp_path / "m.pth.tar.json"
    cfg_file.write_text(__import__("json").dumps(model.cfg.to_dict()))
    db = _db({"a": 12, "b": 6})  # b is shorter than the 8-frame window
    joblib.dump(db, tmp_path / "db.pt")
    loaded = load_glot(ckpt, config=cfg_file, assets_dir=smpl_assets, device="cpu")
    jreg = load_h36m_regressor(smpl_assets)
    args = ["eval", "--dataset", "h36m", "--db", str(tmp_path / "db.pt"), "--checkpoint", str(ckpt),
            "--assets", str(smpl_assets), "--device", "cpu"]
    for flag, protocol, frames in (([], "official", 12), (["--protocol", "clean"], "clean", 18)):
        capsys.readouterr()
        assert main(args + flag) == 0
        line = capsys.readouterr().out
        assert f"({frames} frames" in line and f"{protocol} protocol" in line
        res = evaluate_database(loaded, db, "h36m", jreg, protocol=protocol)
        assert float(line.split("PA-MPJPE ")[1].split()[0]) == pytest.approx(res.mpjpe_pa, abs=0.051)
        assert float(line.split("Accel ")[1].split()[0]) == pytest.approx(res.accel_err, abs=0.051)
    # nothing long enough for the official windows: one line, exit code 2
    joblib.dump({k: v[12:] for k, v in db.items()}, tmp_path / "short.pt")
    capsys.readouterr()
    assert main(["eval", "--dataset", "h36m", "--db", str(tmp_path / "short.pt"), "--checkpoint", str(ckpt),
                 "--assets", str(smpl_assets), "--device", "cpu"]) == 2
    assert "shorter than 8 frames" in capsys.readouterr().err
