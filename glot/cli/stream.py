"""``python -m glot stream --source 0|FILE|URL [--out DIR]``: online GLoT with bounded latency."""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, help="webcam index (0), a video file, or a stream URL (rtsp://, http://)")
    p.add_argument("--out", default=None, help="output folder (results.npz, parts/, summary.json)")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--config", default=None)
    p.add_argument("--assets", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--model", choices=("auto", "official", "open"), default="auto",
                   help="official GLoT (needs the licensed files), the shipped open model, or auto (official when found)")
    p.add_argument("--future", type=int, default=None,
                   help="look-ahead frames k (default T-T//2-1: full windows; smaller = lower latency, off-distribution)")
    p.add_argument("--realtime", action="store_true", help="pace a file by its timestamps (frames are dropped if slow)")
    p.add_argument("--window-fps", type=float, default=None,
                   help="build windows from frames 1/fps apart in time (default: 30, the trained rate, for live "
                        "sources; consecutive frames for files, as offline)")
    p.add_argument("--search", choices=("auto", "frame", "tiles"), default="auto",
                   help="where the detector looks for people: the whole frame (a webcam's subject; the default for "
                        "live sources) or also overlapping tiles (distant people; the default for files)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--fp32", action="store_true", help="ResNet-50 in float32")
    p.add_argument("--overwrite", action="store_true")


def main(args: argparse.Namespace) -> int:
    from ..pipeline import load_bundle
    from ..stream import LIVE_PEOPLE, TRAINED_FPS, OnlineRunner, StreamOptions
    from ..stream.sources import LatestFrame, open_source
    from ..stream.writer import StreamWriter

    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"output folder {out} is not empty (use --overwrite)")
    frames, live = open_source(args.source)
    bundle = load_bundle(args.checkpoint, args.assets, args.device, config=args.config, model=args.model)
    window_fps = args.window_fps if args.window_fps else (TRAINED_FPS if live else None)
    whole_frame = args.search == "frame" or (args.search == "auto" and live)
    options = StreamOptions(future=args.future, bf16=False if args.fp32 else None, window_fps=window_fps)
    runner = OnlineRunner(bundle, replace(options, people=LIVE_PEOPLE) if whole_frame else options)
    reader = LatestFrame(frames, realtime=args.realtime) if (live or args.realtime) else None
    writer = None
    compute, emitted, n, ids = [], 0, 0, set()
    t_start = time.perf_counter()
    try:
        while args.max_frames is None or n < args.max_frames:
            fr = reader.get() if reader is not None else next(frames, None)
            if fr is None:
                break
            if writer is None and out is not None:
                h, w = fr.image.shape[:2]
                writer = StreamWriter(out, (w, h), bundle.faces)
            t0 = time.perf_counter()
            res = runner.push(fr.image, fr.time)
            compute.append((time.perf_counter() - t0) * 1000)
            n += 1
            emitted += len(res)
            if writer is not None:
                writer.frame(fr.time)
                writer.add(res)
            ids.update(r.track_id for r in res)
            for r in res:
                print(f"frame {r.index:6d}  id {r.track_id:3d}  t={r.time:7.3f}s  latency {r.latency_frames} frames  "
                      f"compute {compute[-1]:6.1f} ms", flush=True)
        tail = runner.flush()
        emitted += len(tail)
        ids.update(r.track_id for r in tail)
        if writer is not None:
            writer.add(tail)
    finally:
        runner.close()
    dropped = reader.dropped if reader is not None else 0
    c = np.asarray(compute) if compute else np.zeros(1)
    summary = {
        "source": args.source, "frames_processed": n, "frames_emitted": emitted, "frames_dropped": dropped,
        "people": len(ids), "track_ids": sorted(int(i) for i in ids),
        "look_ahead_frames": runner.k, "window_fps": window_fps, "search": "frame" if whole_frame else "tiles",
        "compute_ms_p50": float(np.percentile(c, 50)),
        "compute_ms_p95": float(np.percentile(c, 95)), "seconds": round(time.perf_counter() - t_start, 3),
        "model": bundle.describe(),
    }
    if writer is not None:
        writer.close(summary)
    print(f"{n} frames in, {len(ids)} people, {emitted} predictions out, {dropped} dropped; look-ahead {runner.k} frames; "
          f"compute p50 {summary['compute_ms_p50']:.1f} ms, p95 {summary['compute_ms_p95']:.1f} ms")
    return 0
