"""The cyclic garbage collector runs on the Qt thread only while the app runs
(kioskapp.ui.collector): garbage made on another thread is collected by the Qt
thread's timer, never by the thread that happened to allocate."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kioskapp.ui.collector import QtThreadCollector


class Cycle:
    """An object in a reference cycle that says which thread finalised it."""

    def __init__(self, seen: list[str], done: asyncio.Future[None] | None = None) -> None:
        self.me = self
        self.seen = seen
        self.done = done

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)
        done = self.done
        if done is not None and not done.done():
            done.get_loop().call_soon_threadsafe(_finish, done)


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


@pytest.fixture
def collections_by_thread() -> Iterator[list[tuple[str, int]]]:
    """(thread name, generation) of every collection while the test runs."""
    seen: list[tuple[str, int]] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append((threading.current_thread().name, int(info["generation"])))

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


@pytest.fixture
def automatic_gc() -> Iterator[None]:
    """Python's automatic collection on, as in the app before the collector starts."""
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def make_garbage(seen: list[str], done: asyncio.Future[None] | None, count: int) -> None:
    """``count`` cycles: far past the first generation's threshold."""
    for i in range(count):
        Cycle(seen, done if i == count - 1 else None)


@pytest.mark.usefixtures("automatic_gc")
async def test_garbage_made_on_a_worker_thread_is_collected_on_the_qt_thread(
    collections_by_thread: list[tuple[str, int]],
) -> None:
    collector = QtThreadCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seen: list[str] = []
        await asyncio.to_thread(make_garbage, seen, done, 5 * gc.get_threshold()[0])
        assert seen == []  # nothing collected where it was made
        await asyncio.wait_for(done, 10.0)
    finally:
        collector.stop()
    qt_thread = threading.current_thread().name
    assert set(seen) == {qt_thread}
    assert collections_by_thread
    assert {name for name, _ in collections_by_thread} == {qt_thread}
    assert sum(collector.collections) >= 1
    assert gc.isenabled()  # as it was before start()


@pytest.mark.usefixtures("automatic_gc")
def test_freeze_keeps_start_up_objects_out_of_every_collection_until_stop() -> None:
    collector = QtThreadCollector()
    collector.freeze()  # not started: nothing to do
    assert gc.get_freeze_count() == 0
    collector.start()
    try:
        seen: list[str] = []
        make_garbage(seen, None, 10)
        collector.freeze()  # collects first: garbage is not frozen
        assert len(seen) == 10
        assert gc.get_freeze_count() > 1000
        assert gc.get_count()[0] < gc.get_threshold()[0]
        assert collector.due() is None
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_the_generation_collected_is_the_one_cpython_would_choose() -> None:
    collector = QtThreadCollector()
    thresholds = gc.get_threshold()
    kept: list[list[int]] = []
    try:
        gc.collect()
        gc.set_threshold(50, 1000, 1000)
        assert collector.due() is None
        kept += [[] for _ in range(100)]  # tracked objects: the first count grows
        assert collector.due() == 0
        assert collector.collect_due() == 0
        assert collector.due() is None
        gc.set_threshold(50, 0, 1000)  # one young collection already counts for gen 1
        kept += [[] for _ in range(100)]
        assert collector.collect_due() == 1
        gc.set_threshold(50, 0, 0)
        kept += [[] for _ in range(100)]
        assert collector.collect_due() == 2
        assert collector.collections == [1, 1, 1]
    finally:
        gc.set_threshold(*thresholds)
    assert len(kept) == 300


async def test_collecting_from_another_thread_is_refused() -> None:
    collector = QtThreadCollector()
    collector.start()
    try:
        with pytest.raises(RuntimeError, match="another thread"):
            await asyncio.to_thread(collector.collect_due)
    finally:
        collector.stop()
