"""Benchmark the motion exporters: size of each glTF and time to write all files of a clip.

Usage: ``python benchmarks/bench_export.py [--results results.npz] [--repeats 5] [--out DIR]``

Without ``--results`` it first runs the open default model on the 4 s example
(``assets/examples/carphone.mp4``, 120 frames; ``RunOptions(render=False, meshes="none")``) into
a temporary folder. Then, per branch (``global``, ``final``): the person's median betas, the root
translation from the image camera (focal length: the image diagonal), and
``motion_<branch>.glb`` + ``motion_<branch>.bvh`` on the open body. Prints each file's size and
the wall time to write all four (median of the repeats; the body is loaded once beforehand, as in
the pipeline) against the targets: at most 3 MB per glTF, all files under 0.5 s.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from glot.body import SMPLBody
from glot.body.open_body import open_body_arrays
from glot.camera import orig_cam_to_translation
from glot.export import OPEN_BODY_NOTICE, CameraView, Motion, build_rig, write_motion_bvh, write_motion_glb
from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR

REPO = Path(__file__).resolve().parents[1]
COLORS = {"global": GLOBAL_COLOR, "final": FINAL_COLOR}
MAX_GLB_BYTES, MAX_SECONDS = 3_000_000, 0.5


def _run_example(out: Path) -> Path:
    from glot.pipeline import load_bundle, run_video
    from glot.pipeline.options import RunOptions

    bundle = load_bundle(model="open", device="cpu")
    result = run_video(REPO / "assets" / "examples" / "carphone.mp4", out, bundle,
                       RunOptions(render=False, meshes="none", overwrite=True))
    return result.files["results"]


def export_all(body: SMPLBody, res: dict, out: Path, fps: float, influences: int = 8) -> list[Path]:
    """The four files of the first person (as glot.pipeline.run writes them per person and branch)."""
    res = {k: (v[0] if k.startswith(("global_", "final_")) or k == "valid" else v) for k, v in res.items()}
    width, height = (int(x) for x in res["image_size"])
    focal = float(np.hypot(width, height))
    files = []
    for branch in ("global", "final"):
        betas = np.median(res[f"{branch}_betas"][res["valid"]], axis=0)
        root = build_rig(body, betas).joints[0]
        transl = orig_cam_to_translation(res[f"{branch}_orig_cam"], width, height, focal, root=root)
        motion = Motion(res[f"{branch}_rotmat"], betas, transl, res["time"], res["valid"])
        files.append(write_motion_glb(out / f"motion_{branch}.glb", body, motion, COLORS[branch], branch,
                                      camera=CameraView(focal, width, height), influences=influences,
                                      copyright=OPEN_BODY_NOTICE))
        files.append(write_motion_bvh(out / f"motion_{branch}.bvh", body, motion, fps))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="a run's results.npz (default: run the 4 s example)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = args.results or _run_example(tmp / "run")
        with np.load(results) as data:
            res = {k: data[k] for k in data.files}
        n = len(res["time"])
        fps = (n - 1) / (res["time"][-1] - res["time"][0]) if n > 1 else 30.0
        a = open_body_arrays()
        body = SMPLBody(a, a["J_regressor_extra"], vertex_ids=a["vertex_ids"], batch_size=1)
        out = args.out or tmp / "export"
        print(f"clip: {n} frames at {fps:.2f} fps, {int(res['valid'].sum())} with the person; "
              f"open body {body.num_verts} vertices")
        for influences in (4, 8):  # the default (8) last: --out keeps its files
            export_all(body, res, out, fps, influences)  # warm-up
            seconds = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                files = export_all(body, res, out, fps, influences)
                seconds.append(time.perf_counter() - t0)
            sec = float(np.median(seconds))
            print(f"\n{influences} influences per vertex{' (the default)' if influences == 8 else ''}:")
            for f in files:
                size = f.stat().st_size
                target = (f" (target <= {MAX_GLB_BYTES / 1e6:.0f} MB: {'met' if size <= MAX_GLB_BYTES else 'MISSED'})"
                          if f.suffix == ".glb" else "")
                print(f"  {f.name:20s} {size / 1e6:6.3f} MB{target}")
            print(f"  all {len(files)} files: median {sec * 1e3:.0f} ms over {args.repeats} runs "
                  f"(min {min(seconds) * 1e3:.0f}) (target < {MAX_SECONDS * 1e3:.0f} ms: "
                  f"{'met' if sec < MAX_SECONDS else 'MISSED'})")


if __name__ == "__main__":
    main()
