"""GLoT.forward_clip (the eval fast path over a clip's sliding windows) against GLoT.forward."""
import copy
import threading

import numpy as np
import pytest
import torch

from glot.body import MeanParams
from glot.config import GLoTConfig
from glot.model import GLoT
from glot.model.dense import Dense, onednn_available
from glot.model.fold import affine_probe
from glot.model.init import official_init_
from glot.testing import synthetic_smpl_arrays
from glot.video.windows import window_indices

from helpers_model import body_from_section, reference_model

FIELDS = ("theta", "verts", "kp_2d", "kp_3d", "rotmat", "pose6d", "betas", "cam")


def _max_diff(a, b) -> dict[str, float]:
    out = {}
    for branch in ("final", "global_"):
        x, y = getattr(a, branch), getattr(b, branch)
        for f in FIELDS:
            u, v = getattr(x, f), getattr(y, f)
            assert (u is None) == (v is None), (branch, f)
            if u is not None:
                assert u.shape == v.shape, (branch, f, u.shape, v.shape)
                out[f"{branch}.{f}"] = float((u.double() - v.double()).abs().max())
    return out


@pytest.fixture(scope="module")
def model(ref):
    return reference_model(ref)


@pytest.fixture(scope="module")
def clip(ref):
    """30 frames of features with the statistics of the recorded ones."""
    f = ref["eval"]["features"]
    g = torch.Generator().manual_seed(3)
    return torch.randn(30, f.shape[-1], generator=g) * f.std() + f.mean()


@pytest.fixture(scope="module")
def windows(model, clip):
    return torch.from_numpy(window_indices(clip.shape[0], model.cfg.seqlen, "clamp"))  # (30, 16), 16 clamped


def test_clip_windows_equal_forward(model, clip, windows):
    with torch.no_grad():
        want = model(clip[windows])
        got = model.forward_clip(clip, windows)
    assert got.final.theta.shape == (30, 85) and got.global_.theta.shape == (30, 1, 85)
    d = _max_diff(got, want)
    assert max(d.values()) <= 1e-5, d


def test_masked_windows_equal_forward(model, clip, windows):
    g = torch.Generator().manual_seed(4)
    mask = torch.rand(windows.shape, generator=g) < 0.5
    mask[0] = True  # every frame hidden: the local branch's attention contributes nothing
    mask[1] = False
    mask[2, model.cfg.seqlen // 2] = True  # the centre itself hidden
    with torch.no_grad():
        want = model(clip[windows], mask=mask)
        got = model.forward_clip(clip, windows, mask=mask)
    assert torch.equal(got.mask, want.mask)
    d = _max_diff(got, want)
    assert max(d.values()) <= 1e-5, d


@pytest.mark.parametrize("kw", [
    {"local_width": 2},
    {"need_verts": False, "need_global_verts": False},
    {"need_verts": True, "need_global_verts": False},
    {"h36m": True},
])
def test_options_equal_forward(ref, model, clip, windows, kw):
    kw = dict(kw)
    if kw.pop("h36m", False):
        kw["J_regressor"] = ref["smpl"]["J_regressor_h36m"]
    w = windows[::3]
    with torch.no_grad():
        d = _max_diff(model.forward_clip(clip, w, **kw), model(clip[w], **kw))
    assert max(d.values()) <= 1e-5, d


def test_other_window_length_equal_forward(model, clip):
    w = torch.from_numpy(window_indices(clip.shape[0], 12, "official"))[::4]  # resampled embeddings
    with torch.no_grad():
        d = _max_diff(model.forward_clip(clip, w), model(clip[w]))
    assert max(d.values()) <= 1e-5, d


def test_people_rows_and_frame_table(model, clip, windows):
    people = torch.stack([clip, clip.flip(0)])  # (2, 30, F)
    rows = torch.tensor([0, 1] * 5)
    w = windows[10:20]
    with torch.no_grad():
        want = model(people[rows[:, None], w])
        got = model.forward_clip(people, w, rows=rows)
        table = model.prepare_frames(clip)
        from_table = model.forward_clip(table, windows)
    d = _max_diff(got, want)
    assert max(d.values()) <= 1e-5, d
    with torch.no_grad():
        d2 = _max_diff(from_table, model(clip[windows]))
    assert max(d2.values()) <= 1e-5, d2


def test_float64_path_is_the_same_maths(model, clip, windows):
    """In float64 the folded weights (regressors as affine maps, single-query attention, split
    LayerNorm) must reproduce the forward to rounding, far below float32's 1e-5."""
    m64 = copy.deepcopy(model).double()
    g = torch.Generator().manual_seed(5)
    mask = torch.rand(windows.shape, generator=g) < 0.3
    with torch.no_grad():
        d = _max_diff(m64.forward_clip(clip.double(), windows, mask=mask), m64(clip[windows].double(), mask=mask))
    assert max(d.values()) <= 1e-10, d


def test_official_size_float64(ref):
    """The official configuration (d=512, 8 heads, 2+1 global and 3 local blocks) with the official
    random initialisation (non-zero positional embeddings), in float64."""
    torch.manual_seed(0)
    body = body_from_section(synthetic_smpl_arrays(200))
    m = official_init_(GLoT(GLoTConfig.preset("repr_table1_3dpw"), body, MeanParams.identity())).eval().double()
    g = torch.Generator().manual_seed(6)
    feats = torch.randn(20, 2048, generator=g, dtype=torch.float64)
    w = torch.from_numpy(window_indices(20, 16, "clamp"))[::3]
    mask = torch.zeros(w.shape, dtype=torch.bool)
    mask[1, ::2] = True
    with torch.no_grad():
        d = _max_diff(m.forward_clip(feats, w, mask=mask), m(feats[w], mask=mask))
    assert max(d.values()) <= 1e-10, d


def test_plan_follows_weight_changes(ref, clip, windows):
    m = reference_model(ref)
    w = windows[:4]
    with torch.no_grad():
        before = m.forward_clip(clip, w).final.theta
        table = m.prepare_frames(clip)
        for p in m.parameters():
            if p.requires_grad:
                p.mul_(1.05)  # in place, as an optimiser step
        after = m.forward_clip(clip, w)
        want = m(clip[w])
    assert (after.final.theta - before).abs().max() > 1e-3
    d = _max_diff(after, want)
    assert max(d.values()) <= 1e-5, d
    with pytest.raises(ValueError, match="other weights"):
        m.forward_clip(table, w)  # made before the change
    copy.deepcopy(m)  # the cached plan (oneDNN-packed weights) is not copied


def test_bf16_option_close(model, clip, windows):
    with torch.no_grad():
        a = model.forward_clip(clip, windows)
        b = model.forward_clip(clip, windows, bf16=True)
    err = (a.final.kp_3d - b.final.kp_3d).norm(dim=-1)
    assert 0 < float(err.max()) < 0.05  # metres: a different, close computation
    assert torch.isfinite(b.final.verts).all()


def test_bad_calls(model, clip, windows):
    with pytest.raises(ValueError, match="rows"):
        model.forward_clip(clip[None], windows)  # (P, L, F) without rows
    with pytest.raises(ValueError, match="rows"):
        model.forward_clip(clip, windows, rows=torch.zeros(len(windows), dtype=torch.long))
    with pytest.raises(IndexError):
        model.forward_clip(clip, windows + 1)
    with pytest.raises(ValueError, match="integer"):
        model.forward_clip(clip, windows.float())
    with pytest.raises(ValueError, match="local width"):
        model.forward_clip(clip, windows, local_width=9)
    with pytest.raises(ValueError, match="frame table"):
        model.forward_clip(model.prepare_frames(clip), windows, local_width=2)
    training = copy.deepcopy(model).train()
    with pytest.raises(ValueError, match="eval"):
        training.forward_clip(clip, windows)


@pytest.mark.skipif(not onednn_available(), reason="PyTorch without oneDNN")
@pytest.mark.parametrize("rows", [1, 7, 64])
@pytest.mark.parametrize("shape", [(256, 64), (1024, 256), (64, 1024)])
def test_dense_equals_linear(rows, shape):
    g = torch.Generator().manual_seed(7)
    w = torch.randn(*shape, generator=g) * 0.05
    b = torch.randn(shape[0], generator=g)
    x = torch.randn(rows, shape[1], generator=g)
    lin = Dense(w, b, torch.float32)
    with torch.no_grad():
        ref = torch.nn.functional.linear(x.double(), w.double(), b.double())
        assert (lin(x).double() - ref).abs().max() <= 1e-4
        assert (lin(x, gelu=True).double() - torch.nn.functional.gelu(ref)).abs().max() <= 1e-4
        assert lin(x[None]).shape == (1, rows, shape[0])
        half = Dense(w, b, torch.bfloat16, torch.float32)(x)
        assert half.dtype == torch.float32 and (half.double() - ref).abs().max() <= 0.05 * float(ref.abs().max())


def test_bf16_dense_without_onednn_bf16(monkeypatch):
    """A CPU whose oneDNN cannot pack bf16 weights (AVX2 only): the bf16 mode still runs (F.linear)."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    assert not onednn_available(torch.bfloat16)
    g = torch.Generator().manual_seed(3)
    w, b, x = torch.randn(256, 64, generator=g) * 0.05, torch.randn(256, generator=g), torch.randn(7, 64, generator=g)
    half = Dense(w, b, torch.bfloat16, torch.float32)
    assert half.packed is None
    ref = torch.nn.functional.linear(x.double(), w.double(), b.double())
    assert (half(x).double() - ref).abs().max() <= 0.05 * float(ref.abs().max())


def test_affine_probe_refuses_nonlinear_heads():
    W, b = affine_probe(lambda x: x @ torch.ones(3, 2, dtype=x.dtype) + 1.0, 3, torch.device("cpu"))
    assert torch.allclose(W, torch.ones(3, 2, dtype=W.dtype)) and torch.allclose(b, torch.ones(2, dtype=b.dtype))
    with pytest.raises(RuntimeError, match="affine"):
        affine_probe(lambda x: torch.relu(x - 0.1), 3, torch.device("cpu"))


def test_single_window_and_duplicates(model, clip):
    w = torch.tensor([[0] * 8 + list(range(8))])  # one edge-clamped window
    with torch.no_grad():
        d = _max_diff(model.forward_clip(clip, w), model(clip[w]))
    assert max(d.values()) <= 1e-5, d
    np.testing.assert_array_equal(w.numpy(), [[0] * 8 + list(range(8))])  # caller's tensor untouched


def test_building_the_plan_leaves_the_shared_model_untouched(ref, clip, windows):
    """Sessions share one model: while one thread builds the folded plan, another may be running
    the same modules, so the build must never swap their weights (not even for a moment; the app's
    four concurrent clients once got 'mat1 and mat2 must have the same dtype: Double and Float')."""
    m = reference_model(ref).eval()
    heads = (m.global_modeling.out_proj, m.global_modeling.regressor, m.local_trans_de.proj, m.regressor)
    before = {id(t): t.dtype for h in heads for t in h.parameters()}
    seen = []  # what another thread would see while a head runs during the build

    def look(module, args):
        seen.append({id(t): t.dtype for h in heads for t in h.parameters()})

    hooks = [h.register_forward_pre_hook(look) for h in heads]
    try:
        out = m.forward_clip(clip, windows[:3])
    finally:
        for h in hooks:
            h.remove()
    assert seen, "the heads were not run while the plan was built"
    assert all(s == before for s in seen)  # same tensors, same float32 dtype throughout
    assert {id(t): t.dtype for h in heads for t in h.parameters()} == before
    with torch.no_grad():
        want = m(clip[windows[:3]])
    assert max(_max_diff(out, want).values()) <= 1e-5


def test_threads_sharing_a_fresh_model_get_the_same_results(ref, clip, windows):
    m = reference_model(ref).eval()
    with torch.no_grad():
        want = m(clip[windows])
    m = reference_model(ref).eval()  # a fresh model: no plan yet, every thread asks for it at once
    barrier = threading.Barrier(4)
    got: dict = {}

    def run(k: int) -> None:
        barrier.wait()
        try:
            got[k] = m.forward_clip(clip, windows, bf16=False)
        except Exception as err:  # noqa: BLE001 (reported below)
            got[k] = err

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 4 and not [v for v in got.values() if isinstance(v, Exception)], got
    for out in got.values():
        assert max(_max_diff(out, want).values()) <= 1e-5
