"""Training from scratch starts as the official GLoT: xavier-uniform Linear weights (KTD's and
SPIN's 0.01 gains overridden), zero biases, LayerNorm (1, 0), N(0, 0.02^2) positional embeddings,
and the global regressor warm-started from SPIN's regressor (official key mapping)."""
from __future__ import annotations

import math
import shutil

import pytest
import torch

from glot.config import GLoTConfig
from glot.model.init import POS_EMBED_KEYS, SPIN_REGRESSOR_KEYS, warm_start_from_spin_
from glot.testing.spin import spin_state_dict, write_spin_checkpoint
from glot.train import build_model

POS_EMBEDS = POS_EMBED_KEYS["local"] + POS_EMBED_KEYS["global"]


@pytest.fixture(scope="module")
def cfg(ref):
    return GLoTConfig.from_dict(ref["config"])  # 2048-d features, d_model 64, HSCR 1024 wide


def _learnable(model) -> dict[str, torch.Tensor]:
    """Learnable tensors outside the SMPL layers, by official state-dict name."""
    return {k: p.detach() for k, p in model.named_parameters() if ".smpl." not in k}


def _check_official_statistics(params: dict[str, torch.Tensor], skip: tuple[str, ...] = ()) -> int:
    checked = 0
    for k, p in params.items():
        if k in skip:
            continue
        n = p.numel()
        if k in POS_EMBEDS:  # N(0, 0.02^2); tolerances: 5 standard errors of the estimates
            assert abs(float(p.std()) / 0.02 - 1.0) < 5 / math.sqrt(2 * n), (k, float(p.std()))
            assert abs(float(p.mean())) < 5 * 0.02 / math.sqrt(n), k
            if n >= 500:  # a normal's tail (a uniform of std 0.02 stops at 1.73 std)
                assert float(p.abs().max()) > 2.3 * 0.02, k
        elif p.dim() == 2:  # Linear weight (out, in): xavier-uniform, gain 1
            fan_out, fan_in = p.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert float(p.abs().max()) <= bound * (1 + 1e-6), k
            assert float(p.abs().max()) > 0.9 * bound, k
            rel = abs(float(p.std()) / (bound / math.sqrt(3.0)) - 1.0)
            assert rel < 0.05 + 1.5 / math.sqrt(n), (k, float(p.std()), bound)
        elif k.endswith(".bias"):  # Linear and LayerNorm biases
            assert torch.count_nonzero(p) == 0, k
        elif k.endswith(".weight"):  # LayerNorm
            assert torch.equal(p, torch.ones_like(p)), k
        else:
            raise AssertionError(f"unexpected learnable tensor {k} {tuple(p.shape)}")
        checked += 1
    return checked


def test_official_initial_statistics(cfg, smpl_assets):
    torch.manual_seed(0)
    model = build_model(cfg, smpl_assets, spin_checkpoint=None)
    params = _learnable(model)
    n = _check_official_statistics(params)
    assert n == len(params) == 171  # every learnable tensor of the official state dict (fixture README)
    # KTD's own xavier gain 0.01 is overridden (official order): its heads are gain 1 like the rest
    head = params["regressor.local_reg.joint_regs.0.weight"]
    assert float(head.std()) > 50 * 0.01 * math.sqrt(2.0 / sum(head.shape))
    # the mean parameters stay the initial estimate (from smpl_mean_params.npz, not random)
    from glot.body.files import read_mean_params

    mean = read_mean_params(smpl_assets / "smpl_mean_params.npz")
    sd = model.state_dict()
    assert torch.equal(sd["global_modeling.regressor.init_cam"], mean.cam.float().reshape(1, 3))
    assert torch.equal(sd["global_modeling.regressor.init_pose"], mean.pose.float().reshape(1, 144))


def test_torch_init_option_turns_it_off(cfg, smpl_assets):
    torch.manual_seed(0)
    model = build_model(cfg, smpl_assets, init="torch")
    params = _learnable(model)
    assert all(torch.count_nonzero(params[k]) == 0 for k in POS_EMBEDS)  # PyTorch: zeros
    assert torch.count_nonzero(params["proj_short.bias"]) > 0  # PyTorch: uniform biases
    with pytest.raises(ValueError, match="init"):
        build_model(cfg, smpl_assets, init="xavier")


def test_trainer_starts_from_the_official_init(tmp_path, smpl_assets):
    import numpy as np

    from glot.train import SequenceDataset, TrainConfig, Trainer

    tiny = dict(seqlen=8, n_layers=2, d_model=32, num_head=4, short_n_layers=1, short_d_model=32, short_num_head=4,
                stride_short=2, feature_dim=24)
    ds = SequenceDataset({"features": np.zeros((16, 24), np.float32)}, 8)
    base = dict(model=tiny, assets_dir=str(smpl_assets), output_dir=str(tmp_path), batch_size=2, epochs=2,
                warmup_epochs=0, progress=False, device="cpu")
    tr = Trainer(TrainConfig.from_dict(base), train_3d=ds)
    assert _check_official_statistics(_learnable(tr.model)) == len(_learnable(tr.model))
    torch_init = Trainer(TrainConfig.from_dict({**base, "init": "torch"}), train_3d=ds)
    assert torch.count_nonzero(torch_init.model.state_dict()["local_trans_en.pos_embed"]) == 0
    with pytest.raises(ValueError, match="init"):
        TrainConfig.from_dict({**base, "init": "spin"})


def test_spin_warm_start_copies_the_official_tensors(cfg, smpl_assets, tmp_path):
    spin_file = write_spin_checkpoint(tmp_path / "spin_model_checkpoint.pth.tar", seed=5)
    ckpt = torch.load(spin_file, weights_only=True)
    spin = ckpt["model"]
    gen = torch.Generator().manual_seed(6)
    for k in SPIN_REGRESSOR_KEYS:  # SPIN's trained biases are not zero: make a copy visible
        if k.endswith(".bias"):
            spin[k] = 0.01 * torch.randn(spin[k].shape, generator=gen)
    torch.save(ckpt, spin_file)
    torch.manual_seed(0)
    plain = build_model(cfg, smpl_assets, spin_checkpoint=None).state_dict()
    torch.manual_seed(0)
    warm = build_model(cfg, smpl_assets, spin_checkpoint=spin_file).state_dict()
    assert list(plain) == list(warm)
    changed = {k for k in plain if not torch.equal(plain[k], warm[k])}
    expected = {f"global_modeling.regressor.{k}" for k in SPIN_REGRESSOR_KEYS}
    assert changed == expected  # the SPIN regressor (fc1, fc2, dec*, init_*), nothing else
    for k in SPIN_REGRESSOR_KEYS:
        assert torch.equal(warm[f"global_modeling.regressor.{k}"], spin[k]), k
    # the rest keeps the official statistics; the copied heads are SPIN's, not xavier
    model = build_model(cfg, smpl_assets, spin_checkpoint=spin_file)
    copied = tuple(f"global_modeling.regressor.{k}" for k in SPIN_REGRESSOR_KEYS)
    _check_official_statistics(_learnable(model), skip=copied)

    # "auto" (the default): the file in the asset folder is used, as the official GMM does
    assets = tmp_path / "assets"
    shutil.copytree(smpl_assets, assets)
    shutil.copy(spin_file, assets / "spin_model_checkpoint.pth.tar")
    torch.manual_seed(0)
    auto = build_model(cfg, assets).state_dict()
    assert all(torch.equal(auto[k], warm[k]) for k in warm)
    # other feature widths cannot take SPIN's regressor: "auto" skips it, an explicit path is an error
    narrow = cfg.replace(feature_dim=24)
    torch.manual_seed(0)
    skipped = build_model(narrow, assets).state_dict()
    assert not torch.equal(skipped["global_modeling.regressor.deccam.weight"], spin["deccam.weight"])
    with pytest.raises(ValueError, match="2048-d features"):
        build_model(narrow, assets, spin_checkpoint=spin_file)


def test_spin_warm_start_refuses_an_incomplete_checkpoint(cfg, smpl_assets):
    model = build_model(cfg, smpl_assets, spin_checkpoint=None)
    state = spin_state_dict(seed=1)
    del state["deccam.bias"]
    with pytest.raises(ValueError, match="deccam.bias"):
        warm_start_from_spin_(model, state)
    # a DataParallel prefix is accepted
    full = {f"module.{k}": v for k, v in spin_state_dict(seed=1).items()}
    assert len(warm_start_from_spin_(model, full)) == len(SPIN_REGRESSOR_KEYS)
    assert torch.equal(model.state_dict()["global_modeling.regressor.fc1.weight"], full["module.fc1.weight"])
