"""GLoT-stage speed, side by side in one process: a baseline commit's model against this checkout's.

Both models hold the same random weights (official initialisation, seed 0) on a synthetic
SMPL-format body of 6890 vertices (the real SMPL size; ``glot.testing.synthetic_smpl_arrays``).
The baseline (default: commit 36add46, the main branch the speed issue measured) is extracted with
``git archive`` into a temporary folder and imported under another package name, so both run in
the same process, on the same inputs, interleaved: each repetition times every configuration
once for the baseline and once for this checkout (alternating which goes first), and the figures
are medians over the repetitions (the machine may be shared with other jobs).

Configurations (windows/s; a window = one output frame):

* ``pipeline``: the stage as ``run_video`` runs it: the sliding (edge-clamped) windows of a clip,
  centre frames, joints only (no meshes). Baseline: ``model(features[windows], need_verts=False,
  need_global_verts=False)``; this checkout: ``model.forward_clip(features, windows, ...)``.
  ``B=64``: 64 consecutive windows per call; ``B=1``: one window per call (the frames' table
  made in every call).
* ``stream B=1``: one window per call with the clip's frame table made once per 16 windows
  (:meth:`GLoT.prepare_frames`, what an online caller keeps per frame; its time included).
* ``full``: as ``pipeline`` but with both branches' meshes.
* ``bf16``: this checkout's bf16 option (``forward_clip(..., bf16=True)``) against the baseline
  in float32, where the CPU/GPU has bf16 matrix units.

Then the work: floating-point operations per window of each configuration for both (counted by
``torch.utils.flop_counter`` on one call: matrix products and attention), whose ratio is what an
equally fast GEMM would give, the ceiling of an exact float32 implementation where the GEMMs bound
the time (B=64). Then the outputs: max |this - baseline| in float32, each one's distance to a
float64 evaluation of the same windows (the float32 rounding floor), this checkout's float64 path against the float64
``forward`` (the algebra), and the bf16 option's error in millimetres.

    PYTHONPATH=. python benchmarks/bench_model.py [--reps 15] [--threads N] [--baseline-rev REV]
"""
from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from glot.body import MeanParams, SMPLBody
from glot.config import GLoTConfig
from glot.model import GLoT
from glot.model.backbone import cpu_has_bf16_matmul
from glot.model.init import official_init_
from glot.testing import synthetic_smpl_arrays
from glot.video.windows import window_indices

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.8  # issue #17: the GLoT stage at >= 1.8x the main branch of commit 36add46
FIELDS = ("theta", "kp_3d", "kp_2d", "verts")


def import_baseline(rev: str, folder: str | None, tmp: Path):
    """The baseline's ``glot`` package, imported as ``glot_baseline``."""
    if folder is None:
        cmd = ["git", "-C", str(REPO), "archive", rev, "glot"]
        data = subprocess.run(cmd, check=True, capture_output=True).stdout
        tarfile.open(fileobj=io.BytesIO(data)).extractall(tmp, filter="data")
        folder = str(tmp)
    root = Path(folder) / "glot"
    spec = importlib.util.spec_from_file_location("glot_baseline", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["glot_baseline"] = mod
    spec.loader.exec_module(mod)
    return mod


def build(device: torch.device) -> tuple[GLoT, torch.nn.Module]:
    arr = synthetic_smpl_arrays(6890)
    cfg = GLoTConfig.preset("repr_table1_3dpw")
    torch.manual_seed(0)
    new = official_init_(GLoT(cfg, SMPLBody(arr, arr["J_regressor_extra"], vertex_ids=arr["vertex_ids"]),
                              MeanParams.identity()))
    bb = importlib.import_module("glot_baseline.body")
    bcfg = importlib.import_module("glot_baseline.config").GLoTConfig.preset("repr_table1_3dpw")
    old = importlib.import_module("glot_baseline.model").GLoT(
        bcfg, bb.SMPLBody(arr, arr["J_regressor_extra"], vertex_ids=arr["vertex_ids"]), bb.MeanParams.identity())
    old.load_state_dict(new.state_dict(), strict=True)
    return new.eval().to(device), old.eval().to(device)


def configs(new: GLoT, old, feats: torch.Tensor, windows: torch.Tensor, bf16: bool) -> dict:
    """name -> (baseline step, this checkout's step); each step processes a few windows and
    returns how many. Every call starts at the next position of the clip (cycling)."""
    M = windows.shape[0]
    state = {"b64": 0, "b1": 0}

    def take(kind: str, n: int) -> torch.Tensor:
        s = state[kind]
        state[kind] = (s + n) % max(M - n, 1)
        return windows[s:s + n]

    joints = {"need_verts": False, "need_global_verts": False}
    mesh = {"need_verts": True, "need_global_verts": True}

    def old_batch(kw, n=64):
        def f():
            w = take("b64", n)
            old(feats[w], **kw)
            return n
        return f

    def new_batch(kw, n=64, **extra):
        def f():
            w = take("b64", n)
            new.forward_clip(feats, w, **kw, **extra)
            return n
        return f

    def old_single(kw, n=16):
        def f():
            w = take("b1", n)
            for i in range(n):
                old(feats[w[i:i + 1]], **kw)
            return n
        return f

    def new_single(kw, n=16, **extra):
        def f():
            w = take("b1", n)
            for i in range(n):
                new.forward_clip(feats, w[i:i + 1], **kw, **extra)
            return n
        return f

    def new_stream(kw, n=16, **extra):
        def f():
            w = take("b1", n)
            frames, local = torch.unique(w, return_inverse=True)
            table = new.prepare_frames(feats[frames], **extra)
            for i in range(n):
                new.forward_clip(table, local[i:i + 1], **kw, **extra)
            return n
        return f

    out = {
        "pipeline B=64": (old_batch(joints), new_batch(joints)),
        "pipeline B=1": (old_single(joints), new_single(joints)),
        "stream   B=1": (old_single(joints), new_stream(joints)),
        "full     B=64": (old_batch(mesh), new_batch(mesh)),
        "full     B=1": (old_single(mesh), new_single(mesh)),
    }
    if bf16:
        out["bf16 pipeline B=64"] = (old_batch(joints), new_batch(joints, bf16=True))
        out["bf16 stream   B=1"] = (old_single(joints), new_stream(joints, bf16=True))
        out["bf16 full     B=64"] = (old_batch(mesh), new_batch(mesh, bf16=True))
    return out


def _flop_mapping() -> dict:
    """Formulas for the ops ``FlopCounterMode`` does not know: oneDNN's prepacked linear
    (``x (..., in)``, weight ``(out, in)``) and the CPU flash attention (``q, k, v (B, h, N, d)``)."""
    import math

    def linear(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        return 2 * math.prod(x_shape[:-1]) * x_shape[-1] * w_shape[0]

    def attention(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
        b, h, n, d = q_shape
        return 2 * b * h * n * k_shape[2] * (d + v_shape[3])

    out = {}
    if hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        out[torch.ops.mkldnn._linear_pointwise] = linear
    out[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = attention
    return out


def work(runs: dict) -> None:
    """MFLOP per window of one step of each configuration, baseline and this checkout."""
    from torch.utils.flop_counter import FlopCounterMode

    print("\nwork per window (MFLOP, matrix products and attention, one call counted):")
    print(f"{'configuration':22s}{'baseline':>10s}{'new':>10s}{'ratio':>8s}   (the most an equally fast GEMM gives)")
    mapping = _flop_mapping()
    for k, steps in runs.items():
        per = []
        for step in steps:
            counter = FlopCounterMode(display=False, custom_mapping=mapping)
            with counter:
                n = step()
            per.append(counter.get_total_flops() / n / 1e6)
        print(f"{k:22s}{per[0]:10.1f}{per[1]:10.1f}{per[0] / per[1]:7.2f}x")


def timed(step) -> float:
    t0 = time.perf_counter()
    n = step()
    return n / (time.perf_counter() - t0)


def accuracy(new: GLoT, old, feats: torch.Tensor, windows: torch.Tensor, bf16: bool) -> None:
    w = windows[:64]  # the clip's first 64 windows: 8 edge-clamped ones among them
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(w.shape, generator=g) < 0.5
    mask[5] = True  # one window with every frame hidden
    new64 = copy.deepcopy(new).double()
    x64 = feats.double()
    print("\noutputs (fp32; metres, crop units; max over both branches, 64 windows):")
    print(f"{'':26s}" + "".join(f"{f:>10s}" for f in FIELDS))
    for name, m in (("unmasked", None), ("masked", mask)):
        a = old(feats[w], mask=m)
        b = new.forward_clip(feats, w, mask=m)
        t = new64(x64[w], mask=m)
        t_clip = new64.forward_clip(x64, w, mask=m)

        def diff(x, y) -> list[float]:
            out = []
            for f in FIELDS:
                out.append(max(float((getattr(getattr(x, br), f).double() - getattr(getattr(y, br), f).double())
                                     .abs().max()) for br in ("final", "global_")))
            return out

        for label, d in ((f"{name}: |new - base|", diff(b, a)), (f"{name}: |base - fp64|", diff(a, t)),
                         (f"{name}: |new - fp64|", diff(b, t)), (f"{name}: fp64 clip-forward", diff(t_clip, t))):
            print(f"{label:26s}" + "".join(f"{v:10.1e}" for v in d))
    if bf16:
        a = new.forward_clip(feats, w)
        _mm_errors("bf16 option against fp32, random weights", a, new.forward_clip(feats, w, bf16=True))
        _mm_errors("for scale: fp32 on features rounded to bf16", a, new.forward_clip(feats.bfloat16().float(), w))
    trained_model_accuracy(bf16)


def _mm_errors(title: str, ref, out) -> None:
    print(f"{title} (per-point distance, mm):")
    for br in ("final", "global_"):
        for f in ("kp_3d", "verts"):
            e = (getattr(getattr(out, br), f) - getattr(getattr(ref, br), f)).norm(dim=-1) * 1000.0
            print(f"  {br.rstrip('_'):6s} {f:6s} mean {float(e.mean()):7.3f}   max {float(e.max()):7.3f}")


def trained_model_accuracy(bf16: bool) -> None:
    """The same checks on a trained model: the open model shipped in checkpoints/open/ on its
    recorded reference features (random official-size weights amplify any rounding; see above)."""
    from glot.open_model.checkpoint import load_open_glot

    try:
        model, _ = load_open_glot(device="cpu")
    except FileNotFoundError as e:
        print(f"\n(trained-model check skipped: {e})")
        return
    import numpy as np

    feats = torch.from_numpy(np.load(REPO / "checkpoints" / "open" / "reference_io.npz")["features"])
    w = torch.from_numpy(window_indices(feats.shape[0], model.cfg.seqlen, "clamp"))
    a, b = model(feats[w]), model.forward_clip(feats, w)
    d = [max(float((getattr(getattr(b, br), f) - getattr(getattr(a, br), f)).abs().max())
             for br in ("final", "global_")) for f in FIELDS]
    print(f"\ntrained open model (checkpoints/open, {len(w)} windows of its reference features):")
    print(f"{'':26s}" + "".join(f"{f:>10s}" for f in FIELDS))
    print(f"{'|forward_clip - forward|':26s}" + "".join(f"{v:10.1e}" for v in d))
    if bf16:
        _mm_errors("bf16 option against fp32, trained weights", b, model.forward_clip(feats, w, bf16=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--reps", type=int, default=15, help="interleaved repetitions per configuration")
    ap.add_argument("--clip", type=int, default=256, help="frames of the synthetic clip")
    ap.add_argument("--baseline-rev", default="36add46", help="git revision of the baseline")
    ap.add_argument("--baseline-dir", default=None, help="a checkout holding the baseline's glot/ (instead of git)")
    ap.add_argument("--no-bf16", action="store_true", help="skip the bf16 option")
    ap.add_argument("--only", default=None, help="comma-separated substrings of configuration names to run")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bf16 = not args.no_bf16 and (cpu_has_bf16_matmul() if device.type == "cpu" else device.type == "cuda")
    with tempfile.TemporaryDirectory() as tmp:
        import_baseline(args.baseline_rev, args.baseline_dir, Path(tmp))
        new, old = build(device)
        run(args, new, old, device, bf16)


def run(args, new: GLoT, old, device: torch.device, bf16: bool) -> None:
    cfg = new.cfg
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(args.clip, cfg.feature_dim, generator=g).to(device)
    windows = torch.from_numpy(window_indices(args.clip, cfg.seqlen, "clamp"))
    print(f"device={args.device} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"baseline={args.baseline_dir or args.baseline_rev} clip={args.clip} frames reps={args.reps} bf16={bf16}")
    with torch.inference_mode():
        runs = configs(new, old, feats, windows, bf16)
        if args.only:
            keys = [k.strip() for k in args.only.split(",")]
            runs = {k: v for k, v in runs.items() if any(s in k for s in keys)}
        for a, b in runs.values():  # warm-up (plans, caches, allocator)
            a(), b()
        rates = {k: ([], []) for k in runs}
        for r in range(args.reps):
            for k, pair in runs.items():
                order = (0, 1) if r % 2 == 0 else (1, 0)
                for i in order:
                    rates[k][i].append(timed(pair[i]))
        print(f"\nwindows/s, medians of {args.reps} interleaved repetitions; ratio = median of the "
              f"repetitions' new/baseline (each pair timed back to back); target: ratio >= {TARGET}")
        print(f"{'configuration':22s}{'baseline':>10s}{'new':>10s}{'ratio':>8s}{'(min-max)':>15s}   target")
        for k, (a, b) in rates.items():
            ratios = sorted(y / x for x, y in zip(a, b))
            ratio = statistics.median(ratios)
            verdict = "(option)" if k.startswith("bf16") else ("met" if ratio >= TARGET else "NOT met")
            spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
            print(f"{k:22s}{statistics.median(a):10.1f}{statistics.median(b):10.1f}{ratio:7.2f}x{spread:>15s}"
                  f"   {verdict}")
        work(runs)
        accuracy(new, old, feats, windows, bf16)

if __name__ == "__main__":
    main()
