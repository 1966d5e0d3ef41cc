"""Inference-time controls: window length, local half-width, masking, KTD slice switch.

Each control is pinned to what its output should be: a model built for the other length / width
with hand-made embeddings, the official training record for masking, hand-computed KTD heads.
"""
import pytest
import torch

from glot.model import GLoT, block_mask, frames_mask, random_mask
from glot.model.regressor import KTD

from helpers_model import mean_from_section, reference_model
from helpers_hand import hand_resample

POS_KEYS = ("global_modeling.trans.pos_embed", "global_modeling.trans.decoder_pos_embed")


@pytest.fixture(scope="module")
def model(ref):
    return reference_model(ref)


@pytest.fixture(scope="module")
def feats(ref):
    return ref["eval"]["features"]


def run(model, x, **kw):
    with torch.no_grad():
        return model(x, **kw)


def _variant(model, ref, state: dict, **cfg_changes) -> GLoT:
    """The reference weights in a model of another configuration (``state`` replaces entries)."""
    other = GLoT(model.cfg.replace(**cfg_changes), model.body, mean_from_section(ref["smpl"]))
    other.load_state_dict({**ref["state_dict"], **state}, strict=True)
    return other.eval()


def _close(a, b, atol):
    for k, v in a.as_dict().items():
        if v is not None:
            torch.testing.assert_close(v, b.as_dict()[k], rtol=0, atol=atol, msg=k)


@pytest.mark.parametrize("T", [24, 10])
def test_other_window_lengths_use_linearly_resampled_embeddings(model, feats, ref, T):
    # a model built for T frames whose positional embeddings are interpolated by hand
    hand = {k: torch.from_numpy(hand_resample(ref["state_dict"][k][0].double().numpy(), T)).float()[None]
            for k in POS_KEYS}
    built = _variant(model, ref, hand, seqlen=T)
    x = torch.cat([feats[:, :4], feats, feats[:, -4:]], dim=1) if T == 24 else feats[:, 3:13]
    a, b = run(model, x), run(built, x)
    assert a.final.theta.shape == (3, 85)
    _close(a.final, b.final, 1e-4)
    _close(a.global_, b.global_, 1e-4)
    with pytest.raises(ValueError, match="shorter than the local window"):
        run(model, feats[:, :8])


@pytest.mark.parametrize("w", [2, 1])
def test_smaller_local_width_uses_the_centre_rows_of_the_local_embedding(model, feats, ref, w):
    # a model built with half-width w whose local embedding is the centre 2w+1 rows of the trained one
    full = ref["state_dict"]["local_trans_en.pos_embed"]  # (1, 9, C)
    s = model.cfg.stride_short - w
    built = _variant(model, ref, {"local_trans_en.pos_embed": full[:, s:s + 2 * w + 1].clone()}, stride_short=w)
    a, b = run(model, feats, local_width=w), run(built, feats)
    _close(a.final, b.final, 1e-5)
    base = run(model, feats)
    assert torch.equal(a.global_.theta, base.global_.theta)  # the global branch is untouched
    with pytest.raises(ValueError):
        run(model, feats, local_width=5)


def test_inference_masking_reproduces_the_official_training_record(model, feats, ref):
    # the official training forward with the recorded mask: the centre frame of both branches
    tr = ref["train"]
    mask = tr["mask_ids"][..., 0]  # (B, T) True = hidden
    out = run(model, tr["features"], mask=mask)
    mid = feats.shape[1] // 2
    torch.testing.assert_close(out.global_.theta[:, 0], tr["global"]["theta"][:, mid], rtol=0, atol=1e-5)
    torch.testing.assert_close(out.global_.kp_3d[:, 0], tr["global"]["kp_3d"][:, mid], rtol=0, atol=1e-5)
    torch.testing.assert_close(out.final.theta, tr["final"]["theta"][:, 1], rtol=0, atol=1e-5)
    torch.testing.assert_close(out.final.kp_3d, tr["final"]["kp_3d"][:, 1], rtol=0, atol=1e-5)


def test_block_mask_hides_exactly_those_frames(model, feats):
    assert block_mask(16, 6, 4).tolist() == [False] * 6 + [True] * 4 + [False] * 6
    assert block_mask(16, -2, 4).nonzero().flatten().tolist() == [0, 1]  # clipped to the window
    assert block_mask(16, 14, 5).nonzero().flatten().tolist() == [14, 15]
    assert torch.equal(block_mask(16, 6, 4), frames_mask(16, [6, 7, 8, 9]))
    assert frames_mask(16, [0, 15]).nonzero().flatten().tolist() == [0, 15]
    # an 8-frame block equals the official training masking of those frames (noise largest there)
    blk = block_mask(16, 4, 8)
    noise = blk.float()[None].expand(3, 16) + torch.linspace(0, 0.5, 16)
    train = run(model, feats, is_train=True, mask_noise=noise)
    assert torch.equal(train.mask, blk[None].expand(3, 16))
    out = run(model, feats, mask=blk)
    torch.testing.assert_close(out.global_.theta[:, 0], train.global_.theta[:, 8], rtol=0, atol=1e-5)
    torch.testing.assert_close(out.final.theta, train.final.theta[:, 1], rtol=0, atol=1e-5)
    # hidden frames are invisible to the global branch; a visible one is not
    scrambled = feats.clone()
    scrambled[:, blk] = torch.randn_like(scrambled[:, blk]) * 3
    torch.testing.assert_close(run(model, scrambled, mask=blk).global_.theta, out.global_.theta, rtol=0, atol=1e-6)
    moved = feats.clone()
    moved[:, 0] += 1.0
    assert (run(model, moved, mask=blk).global_.theta - out.global_.theta).abs().max() > 1e-4


def test_random_masks_and_an_empty_window(model, feats):
    m, _ = random_mask(3, 16, 0.5, generator=torch.Generator().manual_seed(0))
    assert m.sum(1).tolist() == [8, 8, 8]
    m2, _ = random_mask(3, 16, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, m2)
    full = run(model, feats, mask=torch.ones(16, dtype=torch.bool))  # nothing visible: still finite
    assert torch.isfinite(full.final.verts).all() and torch.isfinite(full.global_.verts).all()


def test_skipping_vertices_keeps_joints(model, feats):
    base = run(model, feats)
    lean = run(model, feats, need_verts=False, need_global_verts=False)
    assert lean.final.verts is None and lean.global_.verts is None
    assert torch.allclose(lean.final.kp_3d, base.final.kp_3d, atol=1e-6)
    assert torch.allclose(lean.global_.kp_2d, base.global_.kp_2d, atol=1e-6)


@pytest.mark.parametrize("mode", ["official", "joint"])
def test_ktd_heads_read_the_documented_slice(mode):
    # a 4-joint chain 0 <- 1 <- 2, 0 <- 3; hidden width 5
    parents = [-1, 0, 1, 0]
    ktd = KTD(parents, hidden=5, slice_mode=mode)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in ktd.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    x = torch.randn(2, 5, generator=gen)
    init = torch.randn(2, 144, generator=gen)
    sd = ktd.state_dict()
    ancestors = [[], [0], [0, 1], [0]]
    outs = []
    for j, anc in enumerate(ancestors):
        start = j if mode == "official" else 6 * j  # official: a stride-1 window over the 144 values
        inp = torch.cat([x] + [outs[a] for a in anc] + [init[:, start:start + 6]], dim=1)
        outs.append(inp @ sd[f"joint_regs.{j}.weight"].T + sd[f"joint_regs.{j}.bias"])
    with torch.no_grad():
        got = ktd(x, init)
    torch.testing.assert_close(got, torch.cat(outs, dim=1), rtol=0, atol=1e-5)


def test_ktd_slice_switch_changes_only_the_final_branch(ref, feats):
    official = reference_model(ref)
    joint = _variant(official, ref, {}, ktd_slice="joint")
    a, b = run(official, feats), run(joint, feats)
    assert torch.equal(a.global_.theta, b.global_.theta)
    # the switch reaches KTD (whose two readings are pinned above): the final branch moves
    assert (a.final.theta - b.final.theta).abs().max() > 1e-3
