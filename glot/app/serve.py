"""Serving the app: where it listens (Gradio's conventions, Hugging Face Spaces included) and launch.

Address, first found wins: ``--host/--port``; ``$GRADIO_SERVER_NAME/$GRADIO_SERVER_PORT`` (what a
Gradio Space sets: ``0.0.0.0:7860``); ``$GLOT_HOST/$GLOT_PORT``; ``127.0.0.1:7860``.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import signal
from typing import Mapping, Sequence

import gradio as gr

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "server_address", "limit_malloc_arenas", "calm_queue", "launch"]

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
_HOST_VARS = ("GRADIO_SERVER_NAME", "GLOT_HOST")
_PORT_VARS = ("GRADIO_SERVER_PORT", "GLOT_PORT")


def _first(env: Mapping[str, str], names: Sequence[str]) -> str | None:
    return next((env[n] for n in names if env.get(n)), None)


def server_address(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """``(host, port)`` from the command line and the environment (see the module docstring).

    Raises:
        SystemExit: a port that is not a number (argparse's one-line usage error).
    """
    env = os.environ if env is None else env
    ap = argparse.ArgumentParser(description="GLoT Studio web app")
    ap.add_argument("--host", default=None, help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 = all)")
    ap.add_argument("--port", default=None, help=f"port (default {DEFAULT_PORT})")
    args = ap.parse_args(argv)
    host = args.host or _first(env, _HOST_VARS) or DEFAULT_HOST
    port = args.port or _first(env, _PORT_VARS) or str(DEFAULT_PORT)
    try:
        return host, int(port)
    except ValueError:
        ap.error(f"port must be a number, not {port!r}")
        raise  # unreachable: ap.error exits


MALLOC_ARENAS = 2  # glibc's default is 8 per core: every run's worker threads then keep their own freed memory
_M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS, env: Mapping[str, str] | None = None) -> bool:
    """Cap glibc's malloc arenas for the threads started from now on, unless ``$MALLOC_ARENA_MAX``
    already says how many; returns whether the cap was set (False off glibc).

    Measured with ``benchmarks/bench_app_sessions.py --runs 40``: the app's RSS grew by 275 MB over
    40 runs with glibc's default and by 81 MB with 2 arenas, still climbing by steps, and the peak
    under 4 concurrent clients fell from 1679 to 1225 MB, at the same seconds per run.
    """
    env = os.environ if env is None else env
    if env.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to cap
        return False


QUEUE_POLL_S = 0.02  # Gradio's queue loop looks for new jobs every 1 ms on Linux
PROGRESS_POLL_S = 0.05  # and for progress to send every 10 ms while a job runs


def calm_queue(demo: gr.Blocks, poll: float = QUEUE_POLL_S, progress_poll: float = PROGRESS_POLL_S) -> bool:
    """Make the queue of ``demo`` (call it after ``demo.queue()``, which makes a new one) wake up every ``poll`` seconds instead of
    every millisecond, and look for progress every ``progress_poll``; returns whether it could.

    Each wake-up takes the GIL from the run's threads: measured with a server in the same process
    and no client, a run took 2.69-2.80 s against 2.49-2.56 s without a server, and 2.56-2.72 s
    with these polls. A job now starts up to ``poll`` later; the app reports progress 4 times a
    second anyway. (Gradio keeps these on the private ``Blocks._queue``; without it, nothing changes.)
    """
    queue = getattr(demo, "_queue", None)
    if queue is None or not hasattr(queue, "sleep_when_free") or not hasattr(queue, "progress_update_sleep_when_free"):
        return False
    queue.sleep_when_free = max(float(queue.sleep_when_free), poll)
    queue.progress_update_sleep_when_free = max(float(queue.progress_update_sleep_when_free), progress_poll)
    return True


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # Gradio closes its server on it; launch's cleanup then runs


def launch(demo: gr.Blocks, argv: Sequence[str] | None = None, concurrency: int = 2, css: str = "",
           allowed_paths: Sequence[str] = ()) -> None:
    """Queue ``demo`` (``concurrency`` runs at a time) and serve it at :func:`server_address`.

    SIGTERM (a Space restarting, ``docker stop``, ``kill``) stops the app like Ctrl-C does, and
    every session folder of this process is removed on the way out.
    """
    from .session import sweep_stale_sessions

    host, port = server_address(argv)
    limit_malloc_arenas()
    signal.signal(signal.SIGTERM, _stop)
    try:
        demo.queue(default_concurrency_limit=concurrency, max_size=32)
        calm_queue(demo)
        demo.launch(
            server_name=host, server_port=port, theme=gr.themes.Soft(), css=css, allowed_paths=list(allowed_paths),
            show_error=True)
    finally:
        sweep_stale_sessions(own_too=True)
