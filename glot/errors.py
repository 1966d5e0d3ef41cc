"""User-facing errors: each message is one clear line meant for the person running GLoT.

The CLI prints them without a traceback (exit code 2); the app shows them as ``gr.Error``.
"""
from __future__ import annotations

__all__ = ["GLoTError"]


class GLoTError(Exception):
    """Base class of errors caused by input, files or settings (not by a bug)."""
