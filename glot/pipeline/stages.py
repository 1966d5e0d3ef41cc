"""The stage runner: the one place that knows about threads, queues and cancellation.

Stages stay plain functions over iterators; :func:`ahead` runs a producer (decoding, posing the
meshes of the next frames) in a worker thread that keeps at most ``depth`` items ready, so it works
on one core while the consumer (tracking, rendering) works on the other. PyAV, LiteRT, torch and the
numba kernels release the GIL, so the two really overlap. Items come out in the producer's order,
so a run gives the same outputs with ``overlap=False`` (everything in the calling thread).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

__all__ = ["ahead"]

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def ahead(items: Iterable[T], depth: int = 8, enabled: bool = True, name: str = "glot-stage") -> Iterator[T]:
    """Iterate ``items`` produced in a worker thread, at most ``depth`` items ahead of the consumer.

    The producer's exceptions are raised in the consumer at the item where they happened. Closing
    the returned iterator early (the consumer stopped, or was cancelled) stops the producer at its
    next item and joins it. ``enabled=False`` iterates in the calling thread (the sequential order).
    """
    if not enabled:
        yield from items
        return
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # handed to the consumer
            put(_Failure(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            worker.join(timeout=0.05)
