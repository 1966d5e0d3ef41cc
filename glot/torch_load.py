"""Loading torch files with the weights-only unpickler, and saying plainly why one is refused.

``torch.load(..., weights_only=True)`` refuses a pickle that names a function or class outside
its allow-list, with a message suggesting ``weights_only=False``. A file that needs that is a
file that would run code on loading; GLoT never loads it that way. This module turns the
refusal into one line naming the file and the global (:class:`glot.errors.UnsafeFileError`),
and any other failure (truncated, not a torch file) into the caller's error type.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Iterable

import torch

from .errors import GLoTError, UnsafeFileError

__all__ = ["TorchFileError", "load_weights_only", "refused_global"]

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
# torch's advice lines (never shown: the only advice is not to load such a file)
_ADVICE = ("weights only load failed", "check the documentation", "(1)", "(2)", "this file can still be loaded")


class TorchFileError(GLoTError, ValueError):
    """A torch file that cannot be read (empty, truncated, not a torch file)."""


def refused_global(exc: BaseException) -> str | None:
    """The global a weights-only load refused (``posix.system``, ``builtins.eval``), or None."""
    m = _GLOBAL.search(str(exc))
    if m is None:
        return None
    name = m.group(1)
    return name if "." in name else f"builtins.{name}"


def _reason(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if line and not line.lower().startswith(_ADVICE):
            return line.removeprefix("WeightsUnpickler error: ")[:200]
    return type(exc).__name__


def load_weights_only(path: str | os.PathLike, what: str = "torch checkpoint", safe_globals: Iterable[Any] = (),
                      error: type[GLoTError] = TorchFileError) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Args:
        what: how the file is named in messages ("GLoT checkpoint", "SPIN checkpoint").
        safe_globals: extra harmless types the file may hold (numpy scalars, ...).
        error: the error type raised for unreadable files (a :class:`GLoTError`).
    Raises:
        UnsafeFileError: the file names a global outside the allow-list (it contains code).
        error: empty, truncated or not a torch file.
        OSError: the file cannot be opened (missing, permissions).
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise error(f"{path}: the file is empty")
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        name = refused_global(exc)
        if name is not None:
            raise UnsafeFileError(f"{path}: refused: the file contains code ({name}), which a {what} never needs; "
                                  "it was not loaded (use a file from a trusted source)") from None
        raise error(f"{path}: not a readable {what} (truncated or corrupt?): {_reason(exc)}") from None
    except OSError as exc:
        if exc.filename is not None:  # opening failed (permissions, ...): said as an OS error
            raise
        # torch's zip reader reports a damaged archive as a bare OSError (EINVAL)
        raise error(f"{path}: not a readable {what} (truncated or corrupt?): {_reason(exc)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise error(f"{path}: not a readable {what} (truncated or corrupt?): {_reason(exc)}") from None
