"""Training: windows, masked-HPE losses, a working loop, resume, export, DDP (tiny model, CPU)."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from glot.camera import project_weak_perspective
from glot.checkpoint import load_glot
from glot.config import GLoTConfig
from glot.geometry import axis_angle_to_rotmat
from glot.train import (
    GLoTLoss, LossConfig, SequenceDataset, TrainConfig, Trainer, build_model, cosine_warmup_lr,
    eval_window_indices, load_train_config, read_database, train_windows,
)

F = 24  # feature width other than 2048 (the open model's landmark features)
TINY = dict(seqlen=8, n_layers=2, d_model=32, num_head=4, short_n_layers=1, short_d_model=32, short_num_head=4,
            stride_short=2, feature_dim=F, dropout=0.0, drop_path_r=0.0, short_dropout=0.0, short_drop_path_r=0.0,
            drop_reg_short=0.0)
LENGTHS = (13, 20, 9, 17)


def make_db(assets: Path, seed: int = 0, lengths=LENGTHS) -> dict[str, np.ndarray]:
    """A synthetic VIBE-format database posed with the synthetic body."""
    rng = np.random.default_rng(seed)
    body = build_model(GLoTConfig(**TINY), assets).body
    n = sum(lengths)
    pose = (rng.normal(0, 0.15, (n, 72))).astype(np.float32)
    shape = rng.normal(0, 0.5, (n, 10)).astype(np.float32)
    with torch.no_grad():
        rot = axis_angle_to_rotmat(torch.from_numpy(pose).reshape(n, 24, 3))
        j3 = body.pose(torch.from_numpy(shape), rot, need_verts=False).joints  # (N, 49, 3)
        kp = project_weak_perspective(j3, torch.tensor([[0.9, 0.0, 0.0]]).expand(n, 3))
    bbox = np.tile(np.array([[320.0, 240.0, 200.0, 200.0]], np.float32), (n, 1))
    pix = kp.numpy() * (1.2 * 200.0 / 2.0) + bbox[:, None, :2]
    j2 = np.concatenate([pix, np.ones((n, 49, 1), np.float32)], axis=-1)
    vid = np.concatenate([[f"vid{i}"] * L for i, L in enumerate(lengths)])
    fid = np.concatenate([np.arange(L) for L in lengths])
    return {"features": rng.normal(0, 1, (n, F)).astype(np.float32), "joints2D": j2, "joints3D": j3.numpy(),
            "pose": pose, "shape": shape, "vid_name": vid, "frame_id": fid, "bbox": bbox,
            "valid": np.ones(n, np.float32)}


@pytest.fixture(scope="module")
def db_file(smpl_assets, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "synthetic_train_db.pt"
    joblib.dump(make_db(smpl_assets), path)
    return path


def tiny_cfg(tmp_path: Path, assets: Path, db: Path, **kw) -> TrainConfig:
    base = dict(model=TINY, train_3d=[{"path": str(db), "kind": "3dpw"}], assets_dir=str(assets),
                output_dir=str(tmp_path / "run"), batch_size=4, epochs=2, iters_per_epoch=2, warmup_epochs=1,
                lr=1e-4, seed=3, progress=False, device="cpu")
    base.update(kw)
    return TrainConfig.from_dict(base)


# ---------------------------------------------------------------------------- data
def test_windows_never_cross_videos(db_file):
    db = read_database(db_file)
    for overlap, stride in ((0.0, 8), (0.5, 4)):
        starts = train_windows(db["vid_name"], 8, overlap)
        expect = sum(len(range(0, L - 8 + 1, stride)) for L in LENGTHS)
        assert len(starts) == expect
        for s in starts:
            assert len(set(db["vid_name"][s:s + 8])) == 1
            assert np.all(np.diff(db["frame_id"][s:s + 8]) == 1)
    ds = SequenceDataset(db, 8, kind="3dpw")
    item = ds[len(ds) - 1]
    assert item["features"].shape == (8, F) and item["kp_2d"].shape == (8, 49, 3)
    # pixels -> normalised crop coordinates through the 1.2-scaled box
    s = int(ds.starts[0])
    assert np.allclose(ds.kp_2d[s, :, :2].numpy(), (db["joints2D"][s, :, :2] - 320 + [0, 80]) / 120.0, atol=1e-5)
    mpii = SequenceDataset(db, 8, kind="mpii3d")
    assert mpii[0]["w_smpl"].sum() == 0 and mpii[0]["w_3d"].sum() == 8
    insta = SequenceDataset({"features": db["features"], "vid_name": db["vid_name"]}, 8, kind="insta")
    assert insta[0]["w_3d"].sum() == 0


def test_eval_windows_centre_each_frame():
    idx = eval_window_indices(5, 8)
    assert idx.shape == (5, 8)
    assert np.all(idx[:, 4] == np.arange(5))
    assert idx[0].tolist() == [0, 0, 0, 0, 0, 1, 2, 3]


def test_schedule_matches_official_shape():
    lrs = [cosine_warmup_lr(e, 50, 1e-4, 1e-5, 5) for e in range(50)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[5] == pytest.approx(1e-4)
    assert lrs[3] == pytest.approx(1e-5 + 9e-5 * 3 / 5)
    assert all(a > b for a, b in zip(lrs[5:], lrs[6:]))


OFFICIAL_YAML = """
TITLE: 'repr_table4_3dpw_model'
SEED_VALUE: 1
DATASET: {SEQLEN: 16}
LOSS: {KP_2D_W: 300.0, KP_3D_W: 300.0, SHAPE_W: 0.06, POSE_W: 60.0, D_MOTION_LOSS_W: 0.0,
       vel_or_accel_2d_weight: 10., vel_or_accel_3d_weight: 100., use_accel: False}
TRAIN: {val_epoch: 25, BATCH_SIZE: 64, NUM_ITERS_PER_EPOCH: 1000, END_EPOCH: 50, LR_PATIENCE: 5,
        DATA_2D_RATIO: 0.6, OVERLAP: 0., DATASETS_2D: ['Insta'], DATASETS_3D: ['ThreeDPW', 'MPII3D', 'Human36M'],
        DATASET_EVAL: 'ThreeDPW', GEN_LR: 0.0001, GEN_WD: 0.0}
MODEL: {MODEL_NAME: GLoT, num_head: 8, dropout: 0.1, drop_path_r: 0.2, d_model: 512, n_layers: 2, atten_drop: 0.,
        mask_ratio: 0.5, short_n_layers: 3, short_d_model: 256, short_num_head: 8, short_dropout: 0.1,
        short_drop_path_r: 0.2, short_atten_drop: 0., stride_short: 4, drop_reg_short: 0.25}
"""


def test_official_yaml_is_translated(tmp_path):
    official = tmp_path / "repr_table1_3dpw.yaml"
    official.write_text(OFFICIAL_YAML)
    cfg = load_train_config(official, {"db_dir": "data/preprocessed_data", "output_dir": "runs/repr_table1_3dpw"})
    assert cfg.loss.kp_2d == 300 and cfg.loss.shape == 0.06 and cfg.loss.vel_3d == 100 and not cfg.loss.use_accel
    assert cfg.batch_split == (38, 26) and cfg.epochs == 50 and cfg.warmup_epochs == 5 and cfg.val_epoch == 25
    assert [s.kind for s in cfg.train_3d] == ["3dpw", "mpii3d", "h36m"] and cfg.train_3d[2].smpl is False
    assert cfg.model == GLoTConfig.preset("repr_table1_3dpw")
    root = Path(__file__).resolve().parents[1] / "configs"
    assert load_train_config(root / "repr_table1_3dpw.yaml") == cfg  # our translated copy says the same
    for name in ("repr_table1_h36m_mpii3d", "repr_table2_3dpw"):
        assert load_train_config(root / f"{name}.yaml").model == GLoTConfig.preset(name)
    assert load_train_config(root / "tiny.yaml").model.d_model == 64


# ---------------------------------------------------------------------------- losses
def _forward(smpl_assets, db):
    torch.manual_seed(0)
    model = build_model(GLoTConfig(**TINY), smpl_assets)
    ds = SequenceDataset(db, 8, kind="3dpw")
    batch = {k: torch.stack([ds[i][k] for i in range(3)]) for k in ds[0]}
    noise = torch.rand(3, 8, generator=torch.Generator().manual_seed(1))
    out = model(batch["features"], is_train=True, mask_noise=noise, need_verts=False, need_global_verts=False)
    return model, out, batch


def test_global_parameter_loss_counts_only_masked_frames(smpl_assets, db_file):
    _, out, batch = _forward(smpl_assets, read_database(db_file))
    mask = out.mask
    assert mask.sum(1).tolist() == [4, 4, 4]
    for mode in ("all", "params"):
        loss = GLoTLoss(LossConfig(global_mask=mode))
        _, base = loss(out, batch)
        changed = {k: v.clone() for k, v in batch.items()}
        changed["theta"][..., 3:] += torch.where(mask[..., None], 0.0, 0.7)  # unmasked frames only
        _, t2 = loss(out, changed)
        for k in ("pose_global", "shape_global"):
            assert torch.equal(base[k], t2[k]), (mode, k)
        hit = {k: v.clone() for k, v in batch.items()}
        hit["theta"][..., 3:] += torch.where(mask[..., None], 0.7, 0.0)
        _, t3 = loss(out, hit)
        for k in ("pose_global", "shape_global"):  # (the values themselves: tests/test_losses.py)
            assert not torch.equal(t3[k], base[k]), (mode, k)
    # official ("all"): the global keypoint terms are masked too; "params": they see every frame
    moved = {k: v.clone() for k, v in batch.items()}
    moved["kp_3d"] = moved["kp_3d"] + torch.where(mask[..., None, None], 0.0, 0.1) * torch.arange(49.0)[:, None]
    a0, a1 = GLoTLoss(LossConfig())(out, batch)[1], GLoTLoss(LossConfig())(out, moved)[1]
    assert torch.equal(a0["kp_3d_global"], a1["kp_3d_global"])
    p0, p1 = GLoTLoss(LossConfig(global_mask="params"))(out, batch)[1], GLoTLoss(LossConfig(global_mask="params"))(out, moved)[1]
    assert p1["kp_3d_global"] > p0["kp_3d_global"]
    assert not torch.equal(a0["kp_3d_local"], a1["kp_3d_local"])  # local branch: no mask


def test_local_losses_do_not_train_the_global_regressor(smpl_assets, db_file):
    """HSCR starts from the *detached* global estimate (official): the local terms reach the global
    encoder only through the cross-attention memory, never the global decoder or regressor."""
    model, out, batch = _forward(smpl_assets, read_database(db_file))
    _, terms = GLoTLoss(LossConfig())(out, batch)
    local = torch.stack([v for k, v in terms.items() if k.endswith("_local")]).sum()
    local.backward()
    grads = {k: p.grad for k, p in model.named_parameters() if p.requires_grad}
    behind_init = ("global_modeling.regressor.", "global_modeling.out_proj.", "global_modeling.trans.decoder",
                   "global_modeling.trans.mask_token")
    untouched = [k for k in grads if k.startswith(behind_init)]
    assert len(untouched) > 10
    for k in untouched:
        assert grads[k] is None or torch.count_nonzero(grads[k]) == 0, k
    for k in ("global_modeling.proj.weight", "global_modeling.trans.blocks.0.attn.qkv.weight", "proj_mem.weight",
              "regressor.fc2.weight", "regressor.local_reg.joint_regs.5.weight"):
        assert grads[k] is not None and grads[k].abs().sum() > 0, k  # the paths that do exist


def test_training_lowers_the_loss(tmp_path, smpl_assets, db_file):
    cfg = tiny_cfg(tmp_path, smpl_assets, db_file)
    tr = Trainer(cfg)
    ds = SequenceDataset(read_database(db_file), 8, kind="3dpw")
    batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
    noise = torch.rand(len(ds), 8, generator=torch.Generator().manual_seed(5))

    def fixed_loss() -> float:
        with torch.no_grad():
            out = tr.model(batch["features"], is_train=True, mask_noise=noise, need_verts=False, need_global_verts=False)
            return float(tr.criterion(out, batch)[0])

    before = fixed_loss()
    for _ in range(12):
        tr.train_step(batch)
    after = fixed_loss()
    assert after < 0.8 * before, (before, after)


def test_chained_windows_unfold_and_score_frame_to_frame_motion(smpl_assets, db_file):
    from glot.model.outputs import BodyOutput
    from glot.train.losses import chain_losses, unfold_chain

    K, T = 4, 8
    ds = SequenceDataset(read_database(db_file), T + K - 1, kind="3dpw")  # 11-frame chained samples
    chain = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
    B = len(ds)
    w = unfold_chain(chain, T)
    assert w["features"].shape == (B * K, T, F)
    for b, k in ((0, 0), (1, 3), (B - 1, 2)):
        assert torch.equal(w["kp_3d"][b * K + k], chain["kp_3d"][b, k:k + T])
    cfg = LossConfig(chain_vel_3d=1.0, chain_accel_3d=1.0, chain_accel_2d=1.0)

    def final_from(j3: torch.Tensor, j2: torch.Tensor) -> BodyOutput:
        """A final branch whose 3 output frames are windows' frames T//2-1..T//2+1."""
        z = torch.zeros(B * K, 3, 1)
        return BodyOutput(theta=z, verts=None, kp_2d=j2, kp_3d=j3, rotmat=z, pose6d=z, betas=z, cam=z)

    exact = final_from(w["kp_3d"][:, T // 2 - 1:T // 2 + 2], w["kp_2d"][:, T // 2 - 1:T // 2 + 2, :, :2])
    terms = chain_losses(exact, chain, cfg)
    assert set(terms) == {"chain_vel_3d", "chain_accel_3d", "chain_accel_2d"}
    assert all(float(v) < 1e-12 for v in terms.values())
    # a constant offset per sample keeps the motion; per-window jitter does not
    shifted = final_from(exact.kp_3d + 0.3, exact.kp_2d + 0.2)
    assert all(float(v) < 1e-10 for v in chain_losses(shifted, chain, cfg).values())
    jitter = torch.randn(B * K, 1, 1, 1, generator=torch.Generator().manual_seed(0)) * 0.05
    noisy = final_from(exact.kp_3d + jitter * torch.arange(49.0)[:, None] / 49, exact.kp_2d + jitter)
    assert all(float(v) > 1e-6 for v in chain_losses(noisy, chain, cfg).values())
    assert chain_losses(noisy, chain, LossConfig()) == {}  # weights 0: no terms


def test_chained_training_steps_log_the_chain_terms(tmp_path, smpl_assets, db_file):
    with pytest.raises(ValueError, match="chain"):
        tiny_cfg(tmp_path, smpl_assets, db_file, chain=2)
    cfg = tiny_cfg(tmp_path, smpl_assets, db_file, chain=3, chain_batch=2,
                   loss={"chain_accel_3d": 300.0, "chain_vel_3d": 100.0})
    tr = Trainer(cfg)
    assert tr.streams["3d"].dataset.seqlen == 8 and tr.streams["chain"].dataset.seqlen == 10  # T, T + K - 1
    assert "chain" not in Trainer(tiny_cfg(tmp_path, smpl_assets, db_file, chain=3)).streams  # weights 0: no stream
    res = tr.fit()
    rows = (Path(cfg.output_dir) / "train_log.csv").read_text().splitlines()
    assert "chain_accel_3d" in rows[0] and "chain_vel_3d" in rows[0] and len(rows) == 5
    assert all(np.isfinite(res.losses))


# ---------------------------------------------------------------------------- loop, resume, export
def test_resume_continues_identically(tmp_path, smpl_assets, db_file):
    db = read_database(db_file)
    full = Trainer(tiny_cfg(tmp_path / "a", smpl_assets, db_file), eval_db=db, eval_dataset="3dpw")
    res_full = full.fit()
    assert len(res_full.losses) == 4 and len(res_full.evals) == 2
    assert (tmp_path / "a" / "run" / "train_log.csv").read_text().count("\n") == 5

    half = Trainer(tiny_cfg(tmp_path / "b", smpl_assets, db_file), eval_db=db, eval_dataset="3dpw")
    res_half = half.fit(epochs=1)
    again = Trainer(tiny_cfg(tmp_path / "b", smpl_assets, db_file), eval_db=db, eval_dataset="3dpw")
    again.resume(res_half.last_checkpoint)
    assert (again.epoch, again.step) == (1, 2)
    res_rest = again.fit()
    assert res_half.losses + res_rest.losses == res_full.losses
    for (k, a), b in zip(full.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert again.best == full.best and res_full.best_checkpoint is not None


def test_export_loads_in_core_loader(tmp_path, smpl_assets, db_file):
    tr = Trainer(tiny_cfg(tmp_path, smpl_assets, db_file))
    tr.fit(epochs=1)
    path = tr.export(tmp_path / "exported.pth.tar")
    cfg_file = Path(str(path) + ".json")
    loaded = load_glot(path, config=cfg_file, assets_dir=smpl_assets, device="cpu")
    x = torch.randn(2, 8, F)
    tr.model.eval()
    with torch.no_grad():
        a, b = tr.model(x), loaded(x)
    for k, v in a.final.as_dict().items():
        assert torch.equal(v, b.final.as_dict()[k]), k
    assert json.loads(cfg_file.read_text())["feature_dim"] == F


# ---------------------------------------------------------------------------- DDP
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, cfg: TrainConfig, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        tr = Trainer(cfg.replace(epochs=1, iters_per_epoch=1, warmup_epochs=0), rank=rank, world=world)
        res = tr.fit()
        torch.save({"params": {k: v.detach().clone() for k, v in tr.model.state_dict().items()},
                    "loss": res.losses}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_two_processes_end_identical(tmp_path, smpl_assets, db_file):
    import torch.multiprocessing as mp

    cfg = tiny_cfg(tmp_path, smpl_assets, db_file, batch_size=2)
    mp.spawn(_ddp_worker, args=(2, _free_port(), cfg, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["loss"] != r1["loss"]  # each process saw its own shard
    torch.manual_seed(cfg.seed)
    start = build_model(GLoTConfig(**TINY), smpl_assets).state_dict()
    moved = False
    for k, v in r0["params"].items():
        assert torch.equal(v, r1["params"][k]), k
        moved |= not torch.equal(v, start[k])
    assert moved  # the step changed the weights


# ---------------------------------------------------------------------------- command line
def test_cli_train_then_eval(tmp_path, smpl_assets, db_file, capsys):
    import yaml

    from glot.cli import main

    cfg = {"model": TINY, "train_3d": [{"path": db_file.name, "kind": "3dpw"}],
           "eval_db": {"path": db_file.name, "kind": "3dpw"}, "batch_size": 4, "epochs": 1, "iters_per_epoch": 1,
           "warmup_epochs": 0, "progress": False, "device": "cpu"}
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg_file), "--db-dir", str(db_file.parent), "--assets", str(smpl_assets),
                 "--output", str(run)]) == 0
    assert (run / "last.pt").is_file() and (run / "model_best.pth.tar").is_file()
    assert "pa_mpjpe" in (run / "eval_log.csv").read_text()
    capsys.readouterr()
    assert main(["eval", "--dataset", "3dpw", "--db", str(db_file), "--checkpoint", str(run / "model_final.pth.tar"),
                 "--assets", str(smpl_assets), "--device", "cpu", "--plot", str(tmp_path / "plots")]) == 0
    line = capsys.readouterr().out
    assert "PA-MPJPE" in line and "PVE" in line and f"{sum(LENGTHS)} frames" in line
    assert (tmp_path / "plots" / "accel_error_3dpw.html").is_file()
    # the score printed equals the trainer's own evaluation of the same weights
    best = float(line.split("PA-MPJPE ")[1].split()[0])
    logged = float((run / "eval_log.csv").read_text().splitlines()[1].split(",")[1])
    assert abs(best - logged) < 0.05
    # a user error is one line, exit code 2
    assert main(["eval", "--dataset", "3dpw", "--db", str(tmp_path / "missing.pt"), "--checkpoint",
                 str(run / "model_final.pth.tar"), "--assets", str(smpl_assets), "--device", "cpu"]) == 2
