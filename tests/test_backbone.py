"""SPIN ResNet-50 backbone: loading a SPIN-format checkpoint, strictness, features, bf16."""
from __future__ import annotations

import pytest
import torch

from glot.assets import AssetNotFoundError
from glot.model.backbone import (
    BackboneLoadError,
    bf16_backbone,
    cpu_has_bf16_matmul,
    extract_features,
    fold_batchnorm,
    load_spin_backbone,
)
from glot.testing.spin import spin_state_dict, write_spin_checkpoint


@pytest.fixture(scope="module")
def spin_path(tmp_path_factory):
    return write_spin_checkpoint(tmp_path_factory.mktemp("spin") / "spin_model_checkpoint.pth.tar", seed=3)


@pytest.fixture(scope="module")
def spin_state(spin_path):
    return torch.load(spin_path, map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def backbone(spin_path):
    return load_spin_backbone(spin_path)


def test_loads_spin_weights(backbone, spin_state):
    state = spin_state
    torch.testing.assert_close(spin_state_dict(seed=3)["layer1.0.bn2.weight"], state["layer1.0.bn2.weight"])
    own = backbone.state_dict()
    for k in ("conv1.weight", "bn1.running_var", "layer4.2.conv3.weight", "layer2.0.downsample.1.bias"):
        torch.testing.assert_close(own[k], state[k], rtol=0, atol=0)
    assert not any(k.startswith(("fc1", "fc2", "dec", "init_")) for k in own)
    assert not backbone.training
    assert backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_found_through_assets_dir(spin_path, spin_state):
    m = load_spin_backbone(None, assets_dir=spin_path.parent)
    torch.testing.assert_close(m.conv1.weight, spin_state["conv1.weight"], rtol=0, atol=0)


def test_missing_file_names_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("GLOT_ASSETS", raising=False)
    monkeypatch.delenv("GLOT_HF_REPO", raising=False)
    import glot.assets

    monkeypatch.setattr(glot.assets, "DEFAULT_ASSETS_DIR", tmp_path / "none")
    with pytest.raises(AssetNotFoundError, match="spin_model_checkpoint.pth.tar"):
        load_spin_backbone(None, assets_dir=tmp_path)


def test_missing_backbone_keys_are_an_error(tmp_path, spin_state):
    state = {k: v for k, v in spin_state.items() if k not in ("layer3.1.conv2.weight", "bn1.running_mean")}
    torch.save({"model": state}, tmp_path / "bad.pth.tar")
    with pytest.raises(BackboneLoadError, match=r"lacks ResNet-50 backbone weights: bn1.running_mean, layer3.1.conv2.weight"):
        load_spin_backbone(tmp_path / "bad.pth.tar")
    state = dict(spin_state)
    state["conv1.weight"] = state["conv1.weight"][:, :1]
    torch.save({"model": state}, tmp_path / "shape.pth.tar")
    with pytest.raises(BackboneLoadError, match="wrong shape"):
        load_spin_backbone(tmp_path / "shape.pth.tar")
    torch.save([1, 2], tmp_path / "list.pth.tar")
    with pytest.raises(BackboneLoadError, match="not a SPIN checkpoint"):
        load_spin_backbone(tmp_path / "list.pth.tar")


def test_features_shape_batching_and_reference(backbone):
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    f = extract_features(backbone, x, batch_size=2, bf16=False)
    assert f.shape == (3, 2048) and f.dtype == torch.float32 and torch.isfinite(f).all()
    assert (f >= 0).all() and f.std() > 0  # post-ReLU average pool, not a constant
    with torch.no_grad():  # the 2048-d average pool of layer4 (fc = identity)
        trunk = torch.nn.Sequential(*list(backbone.children())[:-1])
        expected = trunk(x.contiguous(memory_format=torch.channels_last)).flatten(1)
    assert ((f - expected).norm() / expected.norm()).item() < 1e-5  # channels-last only reorders sums
    again = extract_features(backbone, x, batch_size=8, bf16=False)
    assert ((again - f).norm() / f.norm()).item() < 1e-5
    assert extract_features(backbone, x[:0], bf16=False).shape == (0, 2048)


def test_bf16_close_to_fp32(backbone):
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    f32 = extract_features(backbone, x, bf16=False)
    f16 = extract_features(backbone, x, bf16=True)
    rel = ((f16 - f32).norm(dim=1) / f32.norm(dim=1)).max().item()
    assert 0 < rel < 0.02, rel  # bf16 really ran, and moved features by < 2 %
    default = extract_features(backbone, x)  # bf16 by default on CPUs with bf16 units
    torch.testing.assert_close(default, f16 if cpu_has_bf16_matmul() else f32, rtol=0, atol=0)


def test_folded_batchnorm_equals_the_network(backbone):
    """Folding is exact algebra: in float32 the folded network gives the same features (rounding
    only), and the folded copy really has no batch norm left."""
    folded = fold_batchnorm(backbone)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())  # the original is untouched
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    f, g = extract_features(backbone, x, bf16=False), extract_features(folded, x, bf16=False)
    assert ((g - f).norm() / f.norm()).item() < 1e-5


def test_bf16_copy_runs_in_bf16(backbone):
    fast = bf16_backbone(backbone)
    assert {p.dtype for p in fast.parameters()} == {torch.bfloat16}
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    f32 = extract_features(backbone, x, bf16=False)
    out = extract_features(fast, x, batch_size=2, bf16=False)  # a bf16 model runs in bf16 whatever the flag
    assert out.dtype == torch.float32 and out.shape == (3, 2048)
    rel = ((out - f32).norm(dim=1) / f32.norm(dim=1)).max().item()
    assert 0 < rel < 0.02, rel
