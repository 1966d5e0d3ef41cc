"""Command-line entry point: ``python -m glot <command> ...``.

Each sub-command lives in its own module of this package and exposes
``add_arguments(parser)`` and ``main(args) -> int``. Modules are imported lazily so
``python -m glot --help`` stays fast and a command's heavy dependencies load only when used.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# (command, module, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("predict-features", "glot.cli.predict_features", "run GLoT on precomputed (B, T, 2048) features"),
    ("run", "glot.cli.run", "video(s) -> per-frame SMPL, overlay video and exports"),
    ("train", "glot.cli.train", "train GLoT (masked-HPE strategy)"),
    ("eval", "glot.cli.evaluate", "evaluate a checkpoint with the official metrics"),
    ("stream", "glot.cli.stream", "online mode: webcam / stream / growing file"),
)


from ..errors import GLoTError


class UsageError(GLoTError):
    """A user-facing error: printed as one line, exit code 2."""


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
    try:
        return int(args._main(args) or 0)
    except (GLoTError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
