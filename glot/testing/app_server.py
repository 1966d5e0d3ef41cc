"""``python app.py`` as users start it, on a free port, for tests, benchmarks and tools."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

__all__ = ["REPO", "free_port", "running_app"]

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(tmp: Path, assets: Path | None, timeout: float = 120.0, **env: str) -> Iterator[str]:
    """Start ``python app.py`` on a free port with ``GLOT_ASSETS=assets`` (None: an empty folder, so
    the open default model runs); yields its URL, stops it with SIGTERM on exit.

    The app's temporary files (Gradio cache, session folders) go under ``tmp``; its output goes to
    ``tmp / "app.log"``; the process is ``running_app.process`` while it runs.
    """
    port = int(env.get("GRADIO_SERVER_PORT") or free_port())
    (tmp / "tmp").mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "GLOT_PORT": str(port), "GLOT_HOST": "127.0.0.1", "TMPDIR": str(tmp / "tmp"),
                "GRADIO_TEMP_DIR": str(tmp / "gradio"), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2",
                **env}
    full_env.pop("GLOT_HF_REPO", None)
    for name in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):  # only what the caller sets
        if name not in env:
            full_env.pop(name, None)
    full_env["GLOT_ASSETS"] = str(assets) if assets else str(tmp / "no-assets")
    log = open(tmp / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    running_app.process = proc
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with {proc.returncode}: {(tmp / 'app.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app did not answer within {timeout} s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
