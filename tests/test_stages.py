"""The stage runner: producers run ahead in worker threads; order, errors and early stops as sequential."""
from __future__ import annotations

import threading
import time

import pytest

from glot.pipeline.stages import ahead


def test_items_come_in_order_from_another_thread():
    threads = []

    def produce():
        for i in range(50):
            threads.append(threading.current_thread().name)
            yield i

    assert list(ahead(produce(), depth=3)) == list(range(50))
    assert set(threads) == {"glot-stage"}
    threads.clear()
    assert list(ahead(produce(), enabled=False)) == list(range(50))
    assert set(threads) == {threading.current_thread().name}


def test_producer_runs_ahead_while_the_consumer_works():
    made = []

    def produce():
        for i in range(6):
            made.append(i)
            yield i

    it = ahead(produce(), depth=4)
    assert next(it) == 0
    time.sleep(0.3)  # the consumer is busy: the producer fills the queue meanwhile
    assert len(made) >= 4
    assert list(it) == [1, 2, 3, 4, 5]


def test_errors_surface_where_they_happened():
    def produce():
        yield 1
        yield 2
        raise ValueError("decoding failed after 2 frames")

    it = ahead(produce())
    assert next(it) == 1 and next(it) == 2
    with pytest.raises(ValueError, match="after 2 frames"):
        next(it)


def test_closing_early_stops_and_joins_the_producer():
    closed = threading.Event()

    def produce():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    it = ahead(produce(), depth=2)
    assert next(it) == 0
    it.close()
    assert closed.wait(2.0) and threading.active_count() == before
