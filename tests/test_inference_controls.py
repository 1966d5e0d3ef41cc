"""Inference-time controls: window length, local half-width, masking, KTD slice switch."""
import pytest
import torch

from glot.model import block_mask, frames_mask, random_mask
from glot.model.masking import mask_from_noise

from helpers_model import reference_model


@pytest.fixture(scope="module")
def model(ref):
    return reference_model(ref)


@pytest.fixture(scope="module")
def feats(ref):
    return ref["eval"]["features"]


def run(model, x, **kw):
    with torch.no_grad():
        return model(x, **kw)


def test_trained_window_length_is_identity_and_other_lengths_run(model, feats, ref):
    base = run(model, feats)
    assert torch.equal(base.final.verts, run(model, feats, local_width=4).final.verts)
    # T = 24 windows: positional embeddings resampled; centre frame T//2 predicted
    x24 = torch.cat([feats[:, :4], feats, feats[:, -4:]], dim=1)
    out = run(model, x24)
    assert out.final.theta.shape == (3, 85) and torch.isfinite(out.final.verts).all()
    assert (out.final.theta - base.final.theta).abs().max() > 1e-4  # it really changed
    x10 = feats[:, 3:13]
    assert torch.isfinite(run(model, x10).final.verts).all()
    with pytest.raises(ValueError, match="shorter than the local window"):
        run(model, feats[:, :8])


def test_smaller_local_width(model, feats):
    base = run(model, feats)
    out = run(model, feats, local_width=2)
    assert torch.isfinite(out.final.verts).all()
    assert (out.final.theta - base.final.theta).abs().max() > 1e-5
    assert torch.equal(out.global_.theta, base.global_.theta)  # the global branch is untouched
    with pytest.raises(ValueError):
        run(model, feats, local_width=5)


def test_inference_masking_equals_training_masking(model, feats, ref):
    noise = ref["train"]["mask_noise"]
    train_out = run(model, feats, is_train=True, mask_noise=noise)
    mask = mask_from_noise(noise, model.cfg.mask_ratio)
    eval_out = run(model, feats, is_train=False, mask=mask)
    mid = feats.shape[1] // 2
    assert torch.allclose(eval_out.global_.theta[:, 0], train_out.global_.theta[:, mid], atol=1e-5)
    assert torch.allclose(eval_out.final.theta, train_out.final.theta[:, 1], atol=1e-5)


def test_mask_patterns_change_global_branch_only_where_expected(model, feats):
    base = run(model, feats)
    none = run(model, feats, mask=torch.zeros(16, dtype=torch.bool))
    assert torch.equal(none.global_.theta, base.global_.theta)
    blk = block_mask(16, 6, 4)  # hides the centre frame 8
    assert blk.tolist() == [False] * 6 + [True] * 4 + [False] * 6
    out = run(model, feats, mask=blk)
    assert (out.global_.theta - base.global_.theta).abs().max() > 1e-3
    m, _ = random_mask(3, 16, 0.5, generator=torch.Generator().manual_seed(0))
    assert m.sum(1).tolist() == [8, 8, 8]
    m2, _ = random_mask(3, 16, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, m2)
    assert frames_mask(16, [0, 15]).nonzero().flatten().tolist() == [0, 15]
    full = run(model, feats, mask=torch.ones(16, dtype=torch.bool))  # nothing visible: still finite
    assert torch.isfinite(full.final.verts).all() and torch.isfinite(full.global_.verts).all()


def test_skipping_vertices_keeps_joints(model, feats):
    base = run(model, feats)
    lean = run(model, feats, need_verts=False, need_global_verts=False)
    assert lean.final.verts is None and lean.global_.verts is None
    assert torch.allclose(lean.final.kp_3d, base.final.kp_3d, atol=1e-6)
    assert torch.allclose(lean.global_.kp_2d, base.global_.kp_2d, atol=1e-6)


def test_ktd_slice_switch(ref, feats):
    from glot.model import GLoT

    official = reference_model(ref)
    joint = GLoT(official.cfg.replace(ktd_slice="joint"), official.body, _mean(ref))
    joint.load_state_dict(ref["state_dict"])
    joint.eval()
    a, b = run(official, feats), run(joint, feats)
    assert torch.equal(a.global_.theta, b.global_.theta)
    assert (a.final.theta - b.final.theta).abs().max() > 1e-3


def _mean(ref):
    from helpers_model import mean_from_section

    return mean_from_section(ref["smpl"])
