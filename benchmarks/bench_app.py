"""Benchmark the app as users meet it: cold start, and processing the example clip.

Usage: ``python benchmarks/bench_app.py [--assets DIR | --test-weights] [--clip PATH] [--max-frames N]``

* cold start: from launching ``python app.py`` to HTTP 200 on ``/`` (imports, UI build);
* example clip: one ``/run`` through ``gradio_client`` with the default settings (the first call
  also loads the model, reported apart by a warm second call).

``--test-weights`` writes the test suite's official-format weights (synthetic SMPL, random
ResNet-50) to a temporary folder: timings are those of the real architecture, results are not.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _test_weights(folder: Path) -> Path:
    import torch

    from glot.testing import load_reference, write_smpl_assets
    from glot.testing.spin import write_spin_checkpoint

    ref = load_reference()
    write_smpl_assets(ref["smpl"], folder)
    torch.save({"gen_state_dict": ref["state_dict"]}, folder / "table1_3dpw_weights.pth.tar")
    write_spin_checkpoint(folder / "spin_model_checkpoint.pth.tar")
    return folder


def main() -> None:
    from glot.app.ui import example_clips

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", default=os.environ.get("GLOT_ASSETS", ""), help="model files folder")
    ap.add_argument("--test-weights", action="store_true", help="use the test suite's synthetic weights")
    ap.add_argument("--clip", default="", help="video to process (default: the first example clip)")
    ap.add_argument("--max-frames", type=int, default=0, help="0 = whole clip")
    args = ap.parse_args()
    clips = example_clips()
    clip = Path(args.clip or (clips[0] if clips else ""))
    if not clip.is_file():
        sys.exit("no clip: pass --clip (assets/examples/ is empty)")

    with tempfile.TemporaryDirectory(prefix="bench_app_") as tmp:
        tmp = Path(tmp)
        assets = _test_weights(tmp / "assets") if args.test_weights else (Path(args.assets) if args.assets else None)
        from glot.testing.app_server import running_app

        t0 = time.perf_counter()
        with running_app(tmp / "app", assets, timeout=300) as url:
            cold = time.perf_counter() - t0
            print(f"cold start (python app.py -> HTTP 200 on /): {cold:.2f} s")
            from gradio_client import Client, handle_file

            client = Client(url, verbose=False)
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                res = client.predict(handle_file(str(clip)), 16, 4, 0.0, "none", 0, "clamp", "auto", "",
                                     args.max_frames, 0, api_name="/run")
                times.append(time.perf_counter() - t0)
            print(f"example clip {clip.name}: {res[0]}")
            print(f"  first run (loads the model): {times[0]:.2f} s; warm run: {times[1]:.2f} s")
            rows = dict((r[0], r[1]) for r in res[-1]["data"])  # the run table
            print("  stages (warm run): " + ", ".join(f"{k[9:]} {v} s" for k, v in rows.items()
                                                      if k.startswith("seconds: ")))


if __name__ == "__main__":
    main()
