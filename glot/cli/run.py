"""``python -m glot run VIDEO [VIDEO ...] --out DIR``: the whole pipeline on video files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import UsageError, raise_if_signalled

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
    p.add_argument("--meshes", choices=("motion", "zip", "none"), default="motion",
                   help="motion: per person and branch a skinned, animated .glb and a .bvh (default); zip: also "
                        "one GLB per frame and person; none")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--max-people", type=int, default=None, help="keep the K most prominent people (default: everyone)")
    p.add_argument("--person", default=None, metavar="ID|CX,CY,W,H",
                   help="keep one person: a track id (see summary.json), or a box (pixels) around them on the first frame")
    p.add_argument("--box-smoothing", type=float, default=1.5, help="temporal smoothing of the person boxes (frames)")
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

    from ..errors import GLoTError, user_message
    from ..pipeline import RunOptions, load_bundle, run_video
    from ..pipeline.outdir import check_output_root, output_names
    from ..video import probe_video

    focus, person = None, None
    if args.person:
        try:
            parts = [float(v) for v in args.person.split(",")]
            assert len(parts) in (1, 4) and (len(parts) == 4 or parts[0].is_integer())
        except (ValueError, AssertionError):
            raise UsageError("--person takes a track id or four numbers: cx,cy,w,h") from None
        if len(parts) == 1:
            person = int(parts[0])
        else:
            focus = tuple(parts)
    try:
        options = RunOptions(window=args.window, local_width=args.local_width, mask_ratio=args.mask_ratio,
                             mask_pattern=args.mask_pattern, mask_start=args.mask_start, seed=args.seed,
                             edge=args.edge, bf16=False if args.fp32 else None, render=not args.no_render,
                             save_verts=args.save_verts, meshes=args.meshes, max_frames=args.max_frames,
                             overwrite=args.overwrite, focus_box=focus, person=person, max_people=args.max_people,
                             box_smoothing=args.box_smoothing)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    videos = _collect(args.videos)
    check_output_root(args.out)  # a file or read-only --out fails now, not after the model loads
    # check every file before loading any model: bad input fails fast, with one line each
    good, failed = [], 0
    for video in videos:
        try:
            probe_video(video)
            good.append(video)
        except GLoTError as exc:
            print(f"error: {user_message(exc)}", file=sys.stderr)
            failed += 1
    if not good:
        return 2
    bundle = load_bundle(args.checkpoint, args.assets, args.device, config=args.config, model=args.model)
    names = output_names(good, args.out, args.overwrite)  # clip, clip-2: one folder per input
    for i, video in enumerate(good):
        bars: dict[str, tqdm] = {}

        def close_bars() -> None:
            for bar in bars.values():
                bar.close()  # leave=False: the bar's line is cleared, so what follows starts clean
            bars.clear()

        def progress(stage: str, frac: float, text: str) -> None:
            raise_if_signalled(args)
            if stage == "done":
                return
            bar = bars.get(stage)
            if bar is None:
                close_bars()
                bar = bars[stage] = tqdm(total=100, desc=f"{video.name} {stage}", unit="%", leave=False,
                                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
            bar.n = int(frac * 100)
            bar.refresh()

        try:
            result = _run_into_free_folder(run_video, video, args.out, bundle, options, progress, names, i)
        except GLoTError as exc:
            close_bars()
            print(f"error: {user_message(exc)}", file=sys.stderr)
            failed += 1
            continue
        finally:
            close_bars()
        print(f"{video.name}: {result.message} -> {result.out_dir}")
    return 2 if failed else 0


def _run_into_free_folder(run_video, video: Path, out: str, bundle, options, progress, names: list[str], i: int):
    """``run_video`` into ``names[i]``; without ``--overwrite``, a folder another run took in the
    meantime moves this one to the next free name (said in the output line)."""
    from ..pipeline.outdir import OutputBusyError, OutputExistsError, free_name

    attempts = 1 if options.overwrite else 5
    for attempt in range(attempts):
        try:
            return run_video(video, out, bundle, options, progress=progress, name=names[i])
        except (OutputExistsError, OutputBusyError):
            if attempt == attempts - 1:
                raise
            names[i] = free_name(out, video.stem, names[:i] + names[i + 1:])
