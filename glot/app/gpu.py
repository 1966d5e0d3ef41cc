"""Hugging Face ZeroGPU: where the app's accelerator work runs.

ZeroGPU's documented pattern: ``import spaces``, build the models at start-up and move them to
``cuda`` there, and run only the GPU work inside functions decorated with ``spaces.GPU`` (a GPU is
attached for the call's duration). Here the pipeline hands each piece of accelerator work
(ResNet-50 on a batch of crops, GLoT on a batch of windows, skinning a batch of meshes) to
:func:`on_gpu`, decorated at import with a duration derived from the work's size; decoding,
MediaPipe, rendering and export never enter it. Elsewhere (no ``spaces`` package, or not on
ZeroGPU) :func:`on_gpu` is a plain call.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable

__all__ = ["zero_gpu", "on_gpu", "gpu_seconds", "app_device", "SECONDS_BASE", "SECONDS_PER_ITEM"]

SECONDS_BASE = 10.0  # a slot's fixed cost (attach, first CUDA call)
SECONDS_PER_ITEM = 0.02  # per crop / window / mesh of a batch (generous for an H200 slice)
MAX_SECONDS = 120  # ZeroGPU's longest slot for most visitors


def _spaces():
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return None
    return spaces


def zero_gpu() -> bool:
    """True on a ZeroGPU Space (the ``spaces`` package says so, or ``SPACES_ZERO_GPU`` is set)."""
    spaces = _spaces()
    if spaces is None:
        return False
    cfg = getattr(getattr(spaces, "config", None), "Config", None)
    flag = getattr(cfg, "zero_gpu", None)
    return bool(flag) if flag is not None else os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def app_device(requested: str | None = None) -> str | None:
    """The app's device: ``requested`` or ``$GLOT_DEVICE``; on ZeroGPU ``cuda`` (models move there at
    start-up); else None (auto)."""
    dev = requested or os.environ.get("GLOT_DEVICE") or None
    if dev is None and zero_gpu():
        return "cuda"
    return dev


def gpu_seconds(fn: Callable, *args: Any, work: int = 0) -> int:
    """ZeroGPU slot length for ``fn(*args)`` on ``work`` items (crops, windows or meshes)."""
    return int(min(MAX_SECONDS, math.ceil(SECONDS_BASE + SECONDS_PER_ITEM * max(work, 0))))


def _call(fn: Callable, *args: Any, work: int = 0) -> Any:
    """Run ``fn(*args)`` (inside the GPU slot on ZeroGPU). ``fn`` returns CPU data (numpy)."""
    return fn(*args)


def _decorated() -> Callable[..., Any]:
    spaces = _spaces()
    if spaces is None:
        return _call
    return spaces.GPU(duration=gpu_seconds)(_call)


on_gpu = _decorated()
