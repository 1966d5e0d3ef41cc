"""``python app.py`` as users start it; :func:`running_app` is shared with the browser and client tests."""
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

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(tmp: Path, assets: Path | None, timeout: float = 120.0, **env: str) -> Iterator[str]:
    """Start ``python app.py`` on a free port with ``GLOT_ASSETS=assets``; yields its URL.

    The app's temporary files (Gradio cache, session folders) go under ``tmp``.
    """
    port = int(env.get("GRADIO_SERVER_PORT") or free_port())
    (tmp / "tmp").mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "GLOT_PORT": str(port), "GLOT_HOST": "127.0.0.1", "TMPDIR": str(tmp / "tmp"),
                "GRADIO_TEMP_DIR": str(tmp / "gradio"), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2",
                **env}
    full_env.pop("GLOT_HF_REPO", None)
    for name in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):  # only what the test itself sets
        if name not in env:
            full_env.pop(name, None)
    full_env["GLOT_ASSETS"] = str(assets) if assets else str(tmp / "no-assets")
    log = open(tmp / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
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


def test_app_starts_without_model_files(tmp_path):
    """No assets at all: the page serves, says what is missing and where to put it."""
    from gradio_client import Client

    with running_app(tmp_path, None) as url:
        with urllib.request.urlopen(url + "/") as r:
            assert "GLoT Studio" in r.read().decode()
        client = Client(url, verbose=False)
        report = client.predict(api_name="/load_model")
        # either the open default model loaded, or the panel names a missing file and the folder
        assert "Model loaded" in report or ("missing" in report.lower() and "GLOT_ASSETS" in report)
    assert "Traceback" not in (tmp_path / "app.log").read_text()


def _listening(port: int) -> list[str]:
    """Local IPv4 addresses with a socket listening on ``port`` (from /proc/net/tcp)."""
    out = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if state == "0A" and int(p, 16) == port:  # 0A = LISTEN
            out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


def test_address_follows_gradio_conventions():
    from glot.app.serve import server_address

    assert server_address([], {}) == ("127.0.0.1", 7860)
    assert server_address([], {"GLOT_HOST": "0.0.0.0", "GLOT_PORT": "8080"}) == ("0.0.0.0", 8080)
    spaces = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861", "GLOT_HOST": "10.0.0.1",
              "GLOT_PORT": "9000", "SYSTEM": "spaces", "SPACE_ID": "someone/glot-studio"}
    assert server_address([], spaces) == ("0.0.0.0", 7861)  # Gradio's variables before ours
    assert server_address(["--host", "127.0.0.2", "--port", "7000"], spaces) == ("127.0.0.2", 7000)
    assert server_address(["--port", "7001"], {"GRADIO_SERVER_NAME": "0.0.0.0"}) == ("0.0.0.0", 7001)


def test_space_environment_serves_on_all_interfaces(tmp_path):
    """``python app.py`` under the variables a Gradio Space sets listens on 0.0.0.0 at the given port."""
    port = free_port()
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port), "SYSTEM": "spaces",
           "SPACE_ID": "someone/glot-studio"}
    with running_app(tmp_path, None, **env) as url:
        assert url.endswith(f":{port}")
        assert "0.0.0.0" in _listening(port), _listening(port)
