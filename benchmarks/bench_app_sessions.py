"""The app under repeated and concurrent use (loopback only): memory and files left behind.

Usage: ``python benchmarks/bench_app_sessions.py [--runs 20] [--clients 4] [--clip PATH] [--max-frames N]``

* ``--runs`` consecutive runs through the app's API from one client (one session): the app's RSS
  after each run (growth = last - first), and the session folders and bytes on disk afterwards;
* ``--clients`` clients at once, one run each: whether all finish, the peak RSS (VmHWM) and the
  session folders they leave (each client is a session; they go when the tab closes or after 6 h).
The app runs the open default model (no licensed files) on this machine's CPU.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from glot.testing.app_server import running_app  # noqa: E402


def _status(pid: int, key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _disk(tmp: Path) -> tuple[int, float]:
    """Session folders and their bytes (MB) under the app's temp folder."""
    dirs = list(tmp.glob("glot-session-*"))
    size = sum(f.stat().st_size for d in dirs for f in d.rglob("*") if f.is_file())
    return len(dirs), size / 1e6


def _run(client, clip: str, max_frames: int):
    from gradio_client import handle_file

    return client.predict(handle_file(clip), 16, 4, 0.0, "none", 0, "clamp", "auto", "", max_frames, 0,
                          api_name="/run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--clip", default=str(REPO / "assets" / "examples" / "carphone.mp4"))
    ap.add_argument("--max-frames", type=int, default=30)
    args = ap.parse_args()
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="bench_sessions_") as tmp:
        tmp = Path(tmp)
        with running_app(tmp, None, timeout=300) as url:
            pid = running_app.process.pid
            client = Client(url, verbose=False)
            rss = []
            t0 = time.perf_counter()
            for _ in range(args.runs):
                _run(client, args.clip, args.max_frames)
                rss.append(_status(pid, "VmRSS"))
            seconds = time.perf_counter() - t0
            n, mb = _disk(tmp / "tmp")
            print(f"{args.runs} consecutive runs ({args.max_frames} frames of {Path(args.clip).name}, one session): "
                  f"{seconds / args.runs:.1f} s per run; RSS after run 1 {rss[0]:.0f} MB, after run {args.runs} "
                  f"{rss[-1]:.0f} MB (growth {rss[-1] - rss[0]:+.0f} MB; min {min(rss):.0f}, max {max(rss):.0f}); "
                  f"left on disk: {n} session folder(s), {mb:.1f} MB")
            print("  RSS after each run (MB): " + " ".join(f"{v:.0f}" for v in rss))
            results: dict[int, object] = {}

            def one(k: int) -> None:
                try:
                    _run(Client(url, verbose=False), args.clip, args.max_frames)
                    results[k] = "ok"
                except Exception as exc:  # reported below
                    results[k] = exc

            threads = [threading.Thread(target=one, args=(k,)) for k in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=900)
            ok = sum(1 for v in results.values() if v == "ok")
            n, mb = _disk(tmp / "tmp")
            print(f"{args.clients} concurrent clients: {ok}/{args.clients} finished in {time.perf_counter() - t0:.1f} s; "
                  f"peak RSS of the app so far {_status(pid, 'VmHWM'):.0f} MB; session folders now {n} ({mb:.1f} MB)")
            for k, v in results.items():
                if v != "ok":
                    print(f"  client {k}: {v}")
        n, mb = _disk(tmp / "tmp")
        print(f"after SIGTERM: {n} session folder(s), {mb:.1f} MB left")


if __name__ == "__main__":
    main()
