"""A whole run against the cost of its perception: ``glot run`` vs one plain MediaPipe pose pass.

Usage: ``python benchmarks/bench_whole_run.py [--clip PATH ...] [--model open|official] [--app] [--rounds 2]``

For each clip, measured in this one script (alternating, ``--rounds`` times, fastest kept):

* **plain pass**: decode + ``mp.solutions.pose`` (full model, complexity 1) on every frame;
* **run**: :func:`glot.pipeline.run_video` with the overlay and the default exports (every person:
  ``results.npz``, motion .glb/.bvh per person and branch, ``overlay.mp4``), models already loaded;
* **CLI**: ``python -m glot run`` as a user starts it (a fresh process: imports and model loading
  included), next to a plain pass in a fresh process (imports included);
* ``--app``: the same clip through the running app's API (``gradio_client``, results not downloaded:
  a page fetches a file when it is clicked), against the run; each round times the plain pass, the
  run and the app's run one after the other. Also split: the pipeline's own time inside the app (its
  run table) and the rest (upload, queue, updates, the finished page, Gradio's output handling).
Targets (issue #17): run <= 2x the plain pass; the app within 10 % of the CLI's run.
Default clips: the two examples (one person; five walkers). ``--model official`` uses official-size
random weights on a synthetic 6890-vertex body (same cost as the real files).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PLAIN = r"""
import sys, time
t0 = time.perf_counter()
import mediapipe as mp
from glot.video.decode import iter_frames
with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
    n = 0
    for fr in iter_frames(sys.argv[1]):
        pose.process(fr.image)
        n += 1
print(time.perf_counter() - t0)
"""


def plain_pass(clip: Path) -> float:
    """Decode + mp.solutions.pose over the clip, in this process (seconds)."""
    import mediapipe as mp

    from glot.video.decode import iter_frames

    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        t0 = time.perf_counter()
        for fr in iter_frames(clip):
            pose.process(fr.image)
        return time.perf_counter() - t0


def _app_client(stack: contextlib.ExitStack, tmp: Path, assets: Path | None):
    """A ``gradio_client`` of ``python app.py`` started here (stopped when ``stack`` closes)."""
    from gradio_client import Client

    from glot.testing.app_server import running_app

    url = stack.enter_context(running_app(tmp / "app", assets, timeout=300))
    return Client(url, verbose=False, download_files=False)  # a page fetches a file when it is clicked


def _app_run(client, clip: Path, max_frames: int = 0) -> tuple[float, float]:
    """Seconds for one /run of ``clip`` through the app (the settings' defaults, every frame and person),
    and the pipeline's stage seconds summed inside it (its run table; the rest is the app's and Gradio's)."""
    from gradio_client import handle_file

    t0 = time.perf_counter()
    res = client.predict(handle_file(str(clip)), 16, 4, 0.0, "none", 0, "clamp", "auto", "", max_frames, 0,
                         api_name="/run")
    total = time.perf_counter() - t0
    rows = dict((r[0], r[1]) for r in res[-1]["data"])  # the run table: (name, value) rows
    return total, float(rows.get("seconds: total", "nan"))


def _secs(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", action="append", default=None)
    ap.add_argument("--model", choices=("open", "official"), default="open")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--app", action="store_true", help="also time the app's run of each clip")
    ap.add_argument("--no-cli", action="store_true", help="skip the fresh-process CLI timing")
    args = ap.parse_args()
    clips = [Path(c) for c in (args.clip or [REPO / "assets/examples/carphone.mp4",
                                             REPO / "assets/examples/pedestrians.mp4"])]
    from glot.pipeline import RunOptions, load_bundle, run_video
    from glot.testing.__main__ import write_demo_files

    tmp = Path(tempfile.mkdtemp(prefix="bench_whole_"))
    assets = write_demo_files(tmp / "assets", spin=True) if args.model == "official" else tmp / "empty"
    assets.mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(assets_dir=assets, device="cpu", model=args.model)
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"model {args.model}; 2-core CPU; load average at start {load}; fastest of {args.rounds} rounds "
          f"(each round: plain pass, run{', app' if args.app else ''} in turn, so a busier minute hits all alike)")
    with contextlib.ExitStack() as stack:
        client = _app_client(stack, tmp, assets if args.model == "official" else None) if args.app else None
        for clip in clips:
            run_video(clip, tmp / "warm", bundle, RunOptions(max_frames=8, overwrite=True))  # kernels compiled, caches warm
            if client is not None:
                _app_run(client, clip, max_frames=8)  # the app's model loaded, its kernels warm
            plain, run, app, res, run_stages = [], [], [], None, []
            for k in range(args.rounds):
                plain.append(plain_pass(clip))
                t0 = time.perf_counter()
                res = run_video(clip, tmp / "runs", bundle, RunOptions(overwrite=True))
                run.append(time.perf_counter() - t0)
                run_stages.append(sum(res.summary["seconds"].values()))
                if client is not None:
                    app.append(_app_run(client, clip))
            p, r = min(plain), min(run)
            stages = ", ".join(f"{k} {v:.2f}" for k, v in res.summary["seconds"].items())
            print(f"{clip.name}: {res.num_frames} frames, {res.num_people} people; plain MediaPipe pass {p:.2f} s, "
                  f"run {r:.2f} s -> {r / p:.2f}x (target <= 2x)  [{stages} s]")
            cli = None
            if not args.no_cli:
                env_assets = ["--assets", str(assets)] if args.model == "official" else []
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "glot", "run", str(clip), "--out", str(tmp / "cli"), "--overwrite",
                                "--model", args.model, *env_assets], check=True, capture_output=True, cwd=REPO)
                cli = time.perf_counter() - t0
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", PLAIN, str(clip)], check=True, capture_output=True, cwd=REPO,
                               env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
                plain_cli = time.perf_counter() - t0
                print(f"  fresh processes: glot run {cli:.2f} s, plain pass {plain_cli:.2f} s -> {cli / plain_cli:.2f}x "
                      f"(start-up and model loading included)")
            if app:
                a, inside = min(app)
                vs_cli = f", {a / cli:.2f}x the CLI's fresh-process run" if cli else ""
                print(f"  app (gradio_client /run, model loaded): {a:.2f} s -> {a / r:.2f}x the run{vs_cli} "
                      f"(target within 10 %)  [all rounds: app {_secs([t for t, _ in app])}, run {_secs(run)}]")
                print(f"    stage seconds summed: {inside:.2f} s inside the app, {min(run_stages):.2f} s in the run here; "
                      f"around the pipeline (upload, queue, updates, outputs) {a - inside:.2f} s")
    print(json.dumps({"load_average_end": Path("/proc/loadavg").read_text().split()[0]}))


if __name__ == "__main__":
    main()
