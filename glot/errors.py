"""User-facing errors: each message is one clear line meant for the person running GLoT.

The CLI prints them without a traceback (exit code 2); the app shows them as ``gr.Error``.
:func:`user_message` is the one place that turns an exception into that line (the CLI and the
app both call it), including operating-system errors (permissions, full disk, ...).
"""
from __future__ import annotations

import errno
import os
import pickle
import re

__all__ = ["GLoTError", "UnsafeFileError", "os_error_line", "user_message", "hide_paths"]

# errno values that mean "no room to write": said plainly, they are not the input's fault
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class GLoTError(Exception):
    """Base class of errors caused by input, files or settings (not by a bug)."""


class UnsafeFileError(GLoTError, pickle.UnpicklingError):
    """A file would run code when read (a pickle naming a function or class that model files
    never need); it was refused. The message names the file and the refused global."""


def os_error_line(exc: OSError) -> str:
    """``OSError`` as one line naming the file: ``/out/clip/results.npz: No space left on device``."""
    what = exc.strerror or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    hint = " (the disk is full or a file-size limit was reached)" if exc.errno in _NO_SPACE else ""
    if exc.filename is None:
        return f"{what}{hint}"
    name = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        name = f"{name} -> {os.fsdecode(exc.filename2)}"
    return f"{name}: {what}{hint}"


# an absolute POSIX path (at least two components) or a Windows drive path, inside a message
_PATH = re.compile(r"(?<![\w.])(?:/[^\s/'\"():,;]+){2,}/?|(?<![\w])[A-Za-z]:\\[^\s'\"():,;]+")


def hide_paths(text: str) -> str:
    """Replace absolute paths in ``text`` by their last component (server paths stay private)."""
    def last(m: re.Match) -> str:
        p = m.group(0).rstrip("/\\")
        return re.split(r"[/\\]", p)[-1] or p

    return _PATH.sub(last, text)


def user_message(exc: BaseException, private_paths: bool = False) -> str:
    """The one line shown for ``exc``; ``private_paths`` keeps only file names (the web app)."""
    if isinstance(exc, OSError) and not isinstance(exc, GLoTError) and (exc.errno is not None or exc.filename):
        line = os_error_line(exc)
    else:
        text = str(exc)
        line = text.splitlines()[0] if text.strip() else type(exc).__name__
    return hide_paths(line) if private_paths else line
