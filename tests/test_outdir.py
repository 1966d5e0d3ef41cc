"""Output folders: distinct names, complete-or-absent results, no deletion without overwrite,
stale partial folders swept, and concurrent runs (processes and threads) that never race."""
from __future__ import annotations

import errno
import multiprocessing as mp
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from glot.pipeline.outdir import (OutputBusyError, OutputExistsError, OutputFolder, free_name, output_names,
                                  sweep_stale)


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def _write(root: Path, name: str, text: str, overwrite: bool = False) -> Path:
    with OutputFolder(root, name, overwrite) as out:
        (out.tmp / "a.txt").write_text(text)
        (out.tmp / "b.txt").write_text(text)
    return out.final


def test_names_are_distinct_per_input(tmp_path):
    videos = [Path("a/clip.mp4"), Path("b/clip.mp4"), Path("c/other.avi"), Path("d/clip.mov")]
    assert output_names(videos, tmp_path, overwrite=True) == ["clip", "clip-2", "other", "clip-3"]
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip-3").mkdir()
    # without overwrite, existing folders are skipped too (nothing is ever replaced)
    assert output_names(videos, tmp_path, overwrite=False) == ["clip-2", "clip-4", "other", "clip-5"]
    # with overwrite, a re-run gets the same names (and so replaces its own earlier folders)
    assert output_names(videos, tmp_path, overwrite=True) == ["clip", "clip-2", "other", "clip-3"]


def test_existing_folder_is_kept_without_overwrite(tmp_path):
    first = _write(tmp_path, "clip", "one")
    with pytest.raises(OutputExistsError, match="already exists"):
        _write(tmp_path, "clip", "two")
    assert (first / "a.txt").read_text() == "one"
    _write(tmp_path, "clip", "two", overwrite=True)
    assert (first / "a.txt").read_text() == "two" and (first / "b.txt").read_text() == "two"
    assert _entries(tmp_path) == ["clip"]  # no temporary or old folder left


def test_failed_run_leaves_nothing_and_removes_the_root_it_created(tmp_path):
    root = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError):
        with OutputFolder(root, "clip") as out:
            (out.tmp / "results.npz").write_bytes(b"half")
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with OutputFolder(existing, "clip") as out:
            raise KeyboardInterrupt
    assert existing.is_dir() and _entries(existing) == []


def test_os_error_without_a_name_names_the_file_being_written(tmp_path):
    with pytest.raises(OSError) as err:
        with OutputFolder(tmp_path, "clip") as out:
            (out.tmp / "summary.json").write_text("{}")
            os.utime(out.tmp / "summary.json", ns=(1, 1))
            (out.tmp / "results.npz").write_bytes(b"PK")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert err.value.filename == str(tmp_path / "clip" / "results.npz")
    assert _entries(tmp_path) == []


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_partials_are_swept_live_ones_kept(tmp_path):
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [tmp_path / f".clip.partial-{dead}", tmp_path / f".clip.partial-{dead}-0a1b2c3d",
                 tmp_path / f".other.old-{dead}-ffff0000"]
        live = tmp_path / f".clip.partial-{sleeper.pid}-12345678"
        for p in stale + [live]:
            p.mkdir()
            (p / "results.npz").write_bytes(b"x")
        (tmp_path / "keep").mkdir()
        # a live run's reservation: another run for the same name is told so, nothing is removed
        with pytest.raises(OutputBusyError, match=f"process {sleeper.pid}"):
            _write(tmp_path, "clip", "x")
        assert all(not p.exists() for p in stale) and live.is_dir()
        assert sorted(sweep_stale(tmp_path)) == []
        assert free_name(tmp_path, "clip") == "clip-2"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sweep_stale(tmp_path) == [live] and _entries(tmp_path) == ["keep"]


def _overwrite_many(root: str, worker: int, rounds: int, q) -> None:
    try:
        for r in range(rounds):
            _write(Path(root), "clip", f"{worker}-{r}", overwrite=True)
        q.put(None)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        q.put(repr(exc))


def test_concurrent_processes_replacing_one_folder_never_race(tmp_path):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_overwrite_many, args=(str(tmp_path), w, 60, q)) for w in range(4)]
    for p in procs:
        p.start()
    errors = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None] * 4
    assert _entries(tmp_path) == ["clip"]
    a, b = ((tmp_path / "clip" / f).read_text() for f in ("a.txt", "b.txt"))
    assert a == b  # both files from the same (complete) run


def test_concurrent_threads_get_distinct_folders(tmp_path):
    got, errors = [], []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for attempt in range(20):
            name = free_name(tmp_path, "clip")
            try:
                final = _write(tmp_path, name, str(i))
            except (OutputExistsError, OutputBusyError):
                continue
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return
            with lock:
                got.append((final.name, i))
            return
        errors.append(RuntimeError("no free name"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    names = [n for n, _ in got]
    assert len(set(names)) == 6 and set(_entries(tmp_path)) == set(names)
    for name, i in got:  # nobody's folder holds another run's files
        assert (tmp_path / name / "a.txt").read_text() == str(i)
