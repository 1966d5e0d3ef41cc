"""``python app.py`` as users start it; :func:`running_app` is shared with the browser and client tests."""
from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

from glot.testing.app_server import free_port, running_app


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


def test_session_folders_are_swept_at_start_and_removed_on_sigterm(tmp_path):
    """A killed app's folders go at the next start; SIGTERM removes the app's own; a run's folder is there meanwhile."""
    from gradio_client import Client, handle_file

    from conftest import CARPHONE

    stale = tmp_path / "tmp" / "glot-session-999999999-left"  # a pid that cannot exist
    (stale / "run-1").mkdir(parents=True)
    with running_app(tmp_path, None) as url:
        assert not stale.exists()
        client = Client(url, verbose=False)
        client.predict(handle_file(str(CARPHONE)), 16, 4, 0.0, "none", 0, "clamp", "fp32", "", 4, 0, api_name="/run")
        assert len(list((tmp_path / "tmp").glob("glot-session-*"))) == 1
    assert not list((tmp_path / "tmp").glob("glot-session-*"))
    assert "Traceback" not in (tmp_path / "app.log").read_text()


def test_malloc_arenas_are_capped_unless_the_environment_says(tmp_path):
    import platform
    import subprocess
    import sys

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        import pytest

        pytest.skip("glibc only")
    code = ("from glot.app.serve import limit_malloc_arenas as f; "
            "print(f(env={}), f(env={'MALLOC_ARENA_MAX': '4'}))")  # in a fresh process: mallopt is process-wide
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out == ["True", "False"]


def test_calm_queue_slows_the_queue_polls_of_this_gradio():
    """The installed Gradio's queue still has the two polls the app lengthens (a renamed attribute
    would make calm_queue a silent no-op: this fails instead)."""
    import gradio as gr

    from glot.app.serve import PROGRESS_POLL_S, QUEUE_POLL_S, calm_queue

    with gr.Blocks() as demo:
        gr.Button("x")
    demo.queue()  # a new queue, as the app makes it
    assert demo._queue.sleep_when_free < QUEUE_POLL_S  # Gradio's own 1 ms
    assert calm_queue(demo)
    assert demo._queue.sleep_when_free == QUEUE_POLL_S
    assert demo._queue.progress_update_sleep_when_free == PROGRESS_POLL_S
