"""The GLoT forward against the official implementation's recorded outputs (the contract)."""
import json

import pytest
import torch

from glot.config import GLoTConfig, OFFICIAL_PRESETS
from glot.model import GLoT
from glot.testing import fixtures_dir, synthetic_smpl_arrays

from helpers_model import body_from_section, mean_from_section, reference_model

FIELDS = ("theta", "verts", "kp_2d", "kp_3d", "rotmat")


def _max_diff(out, rec):
    return {k: float((getattr(out, k) - rec[k]).abs().max()) for k in FIELDS}


@pytest.fixture(scope="module")
def model(ref):
    return reference_model(ref)


@pytest.mark.parametrize("h36m", [False, True])
def test_eval_outputs_match_official(ref, model, h36m):
    ev = ref["eval"]
    J = ref["smpl"]["J_regressor_h36m"] if h36m else None
    suffix = "_h36m" if h36m else ""
    with torch.no_grad():
        out = model(ev["features"], J_regressor=J, return_debug=True)
    assert out.final.theta.shape == (3, 85) and out.global_.theta.shape == (3, 1, 85)
    assert out.final.kp_3d.shape[-2] == (14 if h36m else 49)
    for branch, o in (("final", out.final), ("global", out.global_)):
        d = _max_diff(o, ev[branch + suffix])
        assert max(d.values()) <= 1e-5, (branch, d)
    for k, v in ev["debug"].items():
        assert (out.debug[k] - v).abs().max() <= 3e-5, k


def test_train_record_reproduced_with_recorded_noise(ref):
    tr = ref["train"]
    model = GLoT(GLoTConfig.from_dict(tr["config"]), body_from_section(ref["smpl"]), mean_from_section(ref["smpl"]))
    model.load_state_dict(ref["state_dict"])
    model.train()  # dropouts are 0 in this config except the official hard-coded p=0.5 one
    model.global_modeling.regressor.drop1.eval()
    with torch.no_grad():
        out = model(tr["features"], is_train=True, mask_noise=tr["mask_noise"], return_debug=True)
    assert torch.equal(out.mask, tr["mask_ids"][..., 0])
    assert out.final.theta.shape == (3, 3, 85) and out.global_.theta.shape == (3, 16, 85)
    for branch, o in (("final", out.final), ("global", out.global_)):
        d = _max_diff(o, tr[branch])
        assert max(d.values()) <= 1e-5, (branch, d)
    # the official memory holds the kept tokens only, in ascending-noise order
    order = torch.argsort(tr["mask_noise"], dim=1)[:, : tr["debug"]["global_mem"].shape[1]]
    kept_mem = torch.gather(out.debug["global_mem"], 1, order[..., None].expand(-1, -1, out.debug["global_mem"].shape[2]))
    assert (kept_mem - tr["debug"]["global_mem"]).abs().max() <= 3e-5
    for k, v in tr["debug"].items():
        if k != "global_mem":
            assert (out.debug[k] - v).abs().max() <= 3e-5, k


def test_other_noise_changes_train_outputs(ref):
    tr = ref["train"]
    model = reference_model(ref)
    with torch.no_grad():
        a = model(tr["features"], is_train=True, mask_noise=tr["mask_noise"])
        b = model(tr["features"], is_train=True, mask_noise=tr["mask_noise"].flip(1))
    assert not torch.equal(a.mask, b.mask)
    assert (a.global_.theta - b.global_.theta).abs().max() > 1e-3


@pytest.fixture(scope="module")
def spec():
    return json.loads((fixtures_dir() / "glot_official_state_dict_spec.json").read_text())


@pytest.fixture(scope="module")
def real_size_body():
    return body_from_section(synthetic_smpl_arrays(6890))


@pytest.mark.parametrize("name", sorted(OFFICIAL_PRESETS))
def test_state_dict_keys_and_shapes_match_official_configs(spec, real_size_body, name):
    entry = spec["configs"][name + ".yaml"]
    cfg = GLoTConfig.preset(name)
    assert cfg == GLoTConfig.from_dict(entry["glot_kwargs"])
    from glot.body import MeanParams
    from glot.checkpoint import official_state_dict

    model = GLoT(cfg, real_size_body, MeanParams.identity())
    sd = official_state_dict(model)
    assert [(k, list(v.shape)) for k, v in sd.items()] == [(e["name"], e["shape"]) for e in entry["keys"]]
    dtypes = {e["name"]: e["dtype"] for e in entry["keys"]}
    assert all(str(v.dtype).replace("torch.", "") == dtypes[k] for k, v in sd.items())
    learnable = sum(p.numel() for n, p in model.named_parameters() if ".smpl." not in n)
    assert learnable == entry["num_learnable_parameters"]
