"""``python -m glot run VIDEO [VIDEO ...] --out DIR``: the whole pipeline on video files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import UsageError

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="+", help="video files, or folders of videos (processed one after another)")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per clip)")
    p.add_argument("--checkpoint", default=None, help="GLoT checkpoint (default: found in the asset folders)")
    p.add_argument("--config", default=None, help="optional JSON/YAML with GLoT constructor values")
    p.add_argument("--assets", default=None, help="folder with SMPL / SPIN / GLoT files (default: checkpoints/)")
    p.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")
    p.add_argument("--model", choices=("auto", "official", "open"), default="auto",
                   help="official GLoT (needs the licensed files), the shipped open model, or auto (official when found)")
    p.add_argument("--window", type=int, default=None, help="window length T (default: the trained one)")
    p.add_argument("--local-window", type=int, default=None, dest="local_width",
                   help="local half-width w (default: the trained one)")
    p.add_argument("--mask-ratio", type=float, default=0.0)
    p.add_argument("--mask-pattern", choices=("random", "block", "none"), default="none")
    p.add_argument("--mask-start", type=int, default=None, help="first occluded frame for --mask-pattern block")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--edge", choices=("clamp", "official"), default="clamp")
    p.add_argument("--fp32", action="store_true", help="run the ResNet-50 in float32 (default: bf16 where supported)")
    p.add_argument("--no-render", action="store_true", help="skip the overlay video")
    p.add_argument("--save-verts", action="store_true", help="store vertices in results.npz")
    p.add_argument("--meshes", choices=("zip", "animated", "none"), default="zip")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--person", default=None, metavar="CX,CY,W,H",
                   help="box (pixels, first frame) of the person to follow when several are visible")
    p.add_argument("--box-smoothing", type=float, default=1.5, help="temporal smoothing of the person box (frames)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")


def _collect(items: list[str]) -> list[Path]:
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_SUFFIXES))
        else:
            out.append(p)
    if not out:
        raise UsageError("no video files given")
    return out


def main(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..pipeline import RunOptions, load_bundle, run_video

    focus = None
    if args.person:
        try:
            focus = tuple(float(v) for v in args.person.split(","))
            assert len(focus) == 4
        except (ValueError, AssertionError):
            raise UsageError("--person takes four numbers: cx,cy,w,h") from None
    try:
        options = RunOptions(window=args.window, local_width=args.local_width, mask_ratio=args.mask_ratio,
                             mask_pattern=args.mask_pattern, mask_start=args.mask_start, seed=args.seed,
                             edge=args.edge, bf16=False if args.fp32 else None, render=not args.no_render,
                             save_verts=args.save_verts, meshes=args.meshes, max_frames=args.max_frames,
                             overwrite=args.overwrite, focus_box=focus, box_smoothing=args.box_smoothing)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    videos = _collect(args.videos)
    # check every file before loading any model: bad input fails fast, with one line each
    from ..errors import GLoTError
    from ..video import probe_video

    good, failed = [], 0
    for video in videos:
        try:
            probe_video(video)
            good.append(video)
        except GLoTError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    if not good:
        return 2
    bundle = load_bundle(args.checkpoint, args.assets, args.device, config=args.config, model=args.model)
    for video in good:
        bars: dict[str, tqdm] = {}

        def progress(stage: str, frac: float, text: str) -> None:
            if stage == "done":
                return
            bar = bars.get(stage)
            if bar is None:
                for other in bars.values():
                    other.close()
                bar = bars[stage] = tqdm(total=100, desc=f"{video.name} {stage}", unit="%", leave=False,
                                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
            bar.n = int(frac * 100)
            bar.refresh()

        try:
            result = run_video(video, args.out, bundle, options, progress=progress)
        except GLoTError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        finally:
            for bar in bars.values():
                bar.close()
        print(f"{video.name}: {result.message} -> {result.out_dir}")
    return 2 if failed else 0
