"""Lazy package exports (PEP 562): a package names what it offers, and a name's module is imported
on first use. Keeps ``import glot.app`` (the first page) free of torch, MediaPipe and smplx."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``name`` -> ``getattr(import_module(exports[name]), name)``
    (module paths relative to ``package`` when they start with a dot)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    return __getattr__
