"""Command-line entry point: ``python -m glot <command> ...``.

Each sub-command lives in its own module of this package and exposes
``add_arguments(parser)`` and ``main(args) -> int``. Modules are imported lazily so
``python -m glot --help`` stays fast and a command's heavy dependencies load only when used.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from typing import Iterator, Sequence

# (command, module, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("predict-features", "glot.cli.predict_features", "run GLoT on precomputed (B, T, 2048) features"),
    ("run", "glot.cli.run", "video(s) -> per-frame SMPL, overlay video and exports"),
    ("train", "glot.cli.train", "train GLoT (masked-HPE strategy)"),
    ("eval", "glot.cli.evaluate", "evaluate a checkpoint with the official metrics"),
    ("stream", "glot.cli.stream", "online mode: webcam / stream / growing file"),
)


from ..errors import GLoTError, user_message


class UsageError(GLoTError):
    """A user-facing error: printed as one line, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP, raised like Ctrl-C so that every ``finally``/cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _terminate_like_interrupt() -> Iterator[list[int]]:
    """While the command runs, SIGTERM (and SIGHUP) raise :class:`Terminated` (main thread only).

    Yields the list of signals received: C code that the exception passes through may turn it
    into another error (an extension module's import says "initialization failed"), so the
    caller asks the list, not the exception type.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        signal.signal(signum, signal.SIG_IGN)  # a second one must not cut the cleanup short
        raise Terminated(signum)

    sigs = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield received
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def raise_if_signalled(args: argparse.Namespace) -> None:
    """Raise :class:`Terminated` if SIGTERM/SIGHUP arrived: a second chance where the handler's
    own exception was swallowed (raised inside a finaliser or a C callback that ignores it)."""
    received = getattr(args, "_signals", None)
    if received:
        raise Terminated(received[0])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m glot", description="GLoT Studio command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built in this version
                continue
            raise
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help()
        return 2
    received: list[int] = []
    try:
        with _terminate_like_interrupt() as received:
            args._signals = received  # long commands call raise_if_signalled(args) as they go
            rc = int(args._main(args) or 0)
        if received:  # the signal's exception was swallowed on the way (a finaliser, C code)
            print("terminated", file=sys.stderr)
            return 128 + received[0]
        return rc
    except BaseException as exc:
        if received:  # whatever the signal's exception became on its way out
            print("terminated", file=sys.stderr)
            return 128 + received[0]
        if isinstance(exc, (GLoTError, OSError)):  # bad input, files, permissions, full disk: one line
            print(f"error: {user_message(exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            return 130
        raise
