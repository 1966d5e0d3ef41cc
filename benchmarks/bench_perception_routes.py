"""The routes weighed for glot.perception, image by image on the annotated frames.

    PYTHONPATH=. python benchmarks/bench_perception_routes.py

* tasks: MediaPipe 0.10.21's ``PoseLandmarker`` (``num_poses=5``) from a bundle built here, in a
  temporary folder, from the wheel's two models with NormalizationOptions metadata; on whole
  frames, and on 192-px tiles (stride 96) enlarged 2x, duplicates merged;
* ours: one frame of :class:`glot.perception.PeopleTracker` (whole frame + tiles, people painted
  out, the detector's verification), the people it verified.

Same matching and annotations as ``bench_perception.py --accuracy`` (vtest frames, the first
three being the pedestrians example's). Each route sees each frame alone (no tracking), so this
compares detection only. Printed, not asserted.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.bench_perception import ANNOTATIONS, clip_path, match_frame


def build_bundle(folder: Path) -> Path:
    """``pose_landmarker.task`` from the installed wheel (uncompressed, with the metadata the tasks need)."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils

    from glot.perception.models import POSE_DETECTOR, POSE_LANDMARKS, model_file

    def with_metadata(path: Path, name: str, mean: float, std: float, outputs: int) -> bytes:
        w = metadata_writer.MetadataWriter.create(bytearray(path.read_bytes()))
        w = w.add_general_info(name).add_image_input(norm_mean=[mean], norm_std=[std])
        for i in range(outputs):
            w = w.add_feature_output(name=f"output_{i}")
        return bytes(w.populate()[0])

    out = folder / "pose_landmarker.task"
    model_asset_bundle_utils.create_model_asset_bundle({
        "pose_detector.tflite": with_metadata(model_file(POSE_DETECTOR), "pose_detector", 127.5, 127.5, 2),
        "pose_landmarks_detector.tflite": with_metadata(model_file(POSE_LANDMARKS), "pose_landmarks", 0.0, 255.0, 5),
    }, str(out))
    return out


def _merge(boxes: list[np.ndarray], iou: float = 0.4) -> np.ndarray:
    """Greedy merge of square ``(cx, cy, s, s)`` boxes overlapping more than ``iou`` (larger kept)."""
    kept: list[np.ndarray] = []
    for b in sorted(boxes, key=lambda b: -b[2]):
        ok = True
        for k in kept:
            lo = np.maximum(b[:2] - b[2] / 2, k[:2] - k[2] / 2)
            hi = np.minimum(b[:2] + b[2] / 2, k[:2] + k[2] / 2)
            inter = np.prod(np.clip(hi - lo, 0, None))
            if inter / (b[2] ** 2 + k[2] ** 2 - inter) > iou:
                ok = False
                break
        if ok:
            kept.append(b)
    return np.array(kept).reshape(-1, 4)


def tasks_people(landmarker, image: np.ndarray, tiles: bool) -> np.ndarray:
    import mediapipe as mp

    from glot.perception.roi import square_regions
    from glot.perception.tracker import boxes_from_landmarks

    h, w = image.shape[:2]
    views = [(0.0, 0.0, 1.0, image)]
    if tiles:
        views = []
        for cx, cy, side in square_regions(w, h, 192, 0.5):
            x0, y0 = int(cx - side / 2), int(cy - side / 2)
            views.append((x0, y0, 2.0, cv2.resize(image[y0 : y0 + 192, x0 : x0 + 192], (384, 384), interpolation=cv2.INTER_LINEAR)))
    found = []
    for x0, y0, k, view in views:
        res = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(view)))
        vh, vw = view.shape[:2]
        for pose in res.pose_landmarks:
            lm = np.array([(p.x * vw / k + x0, p.y * vh / k + y0, 0.0) for p in pose])
            vis = np.array([p.visibility for p in pose])
            found.append(boxes_from_landmarks(lm, vis))
    return _merge(found)


def main() -> None:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

    from glot.perception import PeopleTracker
    from glot.video.decode import iter_frames

    clip = json.loads(ANNOTATIONS.read_text())["clips"]["vtest"]
    want = {int(k): v for k, v in clip["frames"].items()}
    images = {f.index: f.image for f in iter_frames(clip_path(clip["path"])) if f.index in want and f.index <= max(want)}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(Path(tmp))
        opts = PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(bundle)), running_mode=RunningMode.IMAGE,
                                     num_poses=5)
        with PoseLandmarker.create_from_options(opts) as landmarker:
            def timed(fn):
                def run(im):
                    t = time.perf_counter()
                    return fn(im), time.perf_counter() - t
                return run

            routes = {
                "tasks, whole frame": timed(lambda im: tasks_people(landmarker, im, tiles=False)),
                "tasks, 192-px tiles x2": timed(lambda im: tasks_people(landmarker, im, tiles=True)),
            }

            def ours(im: np.ndarray):
                with PeopleTracker() as tracker:  # a fresh tracker: this frame alone (loading not timed)
                    t = time.perf_counter()
                    obs = tracker.update(im, 0.0)
                    seconds = time.perf_counter() - t
                return np.array([o.box for _, o in obs if o.confirmed]).reshape(-1, 4), seconds

            routes["ours (LiteRT, one frame)"] = ours
            print(f"vtest, {len(want)} annotated frames, each on its own (no tracking); mediapipe {mp.__version__}")
            print("route                      recall        false  ms/frame")
            for name, fn in routes.items():
                found = total = false = 0
                seconds = 0.0
                for f, truth in sorted(want.items()):
                    pred, sec = fn(images[f])
                    seconds += sec
                    a, b, c = match_frame(pred, truth)
                    found, total, false = found + a, total + b, false + c
                print(f"{name:26s} {found / total:.2f} ({found}/{total})  {false:5d}  {1000 * seconds / len(want):8.0f}")


if __name__ == "__main__":
    main()
