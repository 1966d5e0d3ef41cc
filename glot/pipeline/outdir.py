"""Output folders of runs: reserved under a lock, written under a temporary name, renamed whole.

``OUT/<name>`` only ever appears complete. While a run writes, its files live in
``OUT/.<name>.partial-<pid>-<token>``; that folder is also the run's reservation of ``<name>``.
Every change to ``OUT`` (reserve, rename into place, replace with ``overwrite``, sweep) happens
under an exclusive ``flock`` on the ``OUT`` folder itself, so concurrent runs (processes or
threads) into one folder never race, and nothing is written into ``OUT`` for the lock.

* an existing ``OUT/<name>`` is replaced only with ``overwrite`` (it is renamed aside, the new
  one renamed in, then the old one deleted);
* partial folders whose process is gone (killed runs) are swept at the next reservation;
* a failed run removes its partial folder, and ``OUT`` (and parents) if it created them and
  they are empty; an ``OSError`` without a file name is given the file being written.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from pathlib import Path
from types import TracebackType
from typing import Iterable, Iterator, Sequence

from ..errors import GLoTError

try:  # POSIX; elsewhere runs still get unique temporary names, without the lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["OutputFolder", "OutputExistsError", "OutputBusyError", "output_names", "free_name", "sweep_stale",
           "check_output_root", "remove_empty_dirs"]

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")


class OutputExistsError(GLoTError):
    """``OUT/<name>`` exists and ``overwrite`` was not given."""


class OutputBusyError(GLoTError):
    """Another live run is writing ``OUT/<name>``."""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Exclusive lock on the folder ``root`` (blocks until free)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _temp_entries(root: Path) -> Iterator[tuple[Path, str, str, int]]:
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    for e in entries:
        m = _TEMP.match(e.name)
        if m and e.is_dir(follow_symlinks=False):
            yield Path(e.path), m["name"], m["kind"], int(m["pid"])


def sweep_stale(root: str | os.PathLike) -> list[Path]:
    """Delete ``.<name>.partial-<pid>*`` / ``.old-`` folders of processes that are gone; returns them.

    Call under the lock (the reservation of a live run is never touched: its process exists).
    """
    gone = []
    for path, _, _, pid in _temp_entries(Path(root)):
        if not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            gone.append(path)
    return gone


def _reserved(root: Path, name: str) -> int | None:
    """pid of a live run writing ``root/name``, or None."""
    for _, n, kind, pid in _temp_entries(root):
        if n == name and kind == "partial" and _alive(pid):
            return pid
    return None


def free_name(root: str | os.PathLike | None, stem: str, taken: Iterable[str] = ()) -> str:
    """First of ``stem``, ``stem-2``, ``stem-3`` ... that is not in ``taken`` and (unless ``root``
    is None) not in ``root`` nor being written by a live run there. A hint only:
    :class:`OutputFolder` decides under the lock."""
    taken = set(taken)
    k = 1
    while True:
        name = stem if k == 1 else f"{stem}-{k}"
        if name not in taken and (root is None or (not (Path(root) / name).exists()
                                                   and _reserved(Path(root), name) is None)):
            return name
        k += 1


def output_names(videos: Sequence[str | os.PathLike], root: str | os.PathLike, overwrite: bool) -> list[str]:
    """One distinct folder name per input (``clip``, ``clip-2`` for two ``clip.mp4``).

    With ``overwrite`` the names depend only on the inputs (a re-run replaces its own folders);
    without it, names already in ``root`` are skipped as well (nothing is ever replaced).
    """
    names: list[str] = []
    for v in videos:
        stem = Path(v).stem
        names.append(free_name(None if overwrite else root, stem, names))
    return names


def _missing_parents(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    out = []
    p = path
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


def check_output_root(root: str | os.PathLike) -> None:
    """Fail fast (before any model loads) when ``root`` cannot become an output folder: finds
    the nearest existing folder and creates (then removes) a probe folder there.

    Raises:
        NotADirectoryError / PermissionError / OSError (read-only file system, ...): naming the
        path at fault.
    """
    p = Path(root).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder (--out must be a folder)", str(p))
    probe = p / f".glot-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(p)) from None  # name the folder, not the probe
    probe.rmdir()


def remove_empty_dirs(paths: Iterable[Path]) -> None:
    """``rmdir`` each of ``paths`` (deepest first) that is empty; others are left alone."""
    for p in paths:
        try:
            p.rmdir()
        except OSError:
            pass


def _newest_file(folder: Path) -> Path | None:
    best, best_t = None, -1.0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            p = Path(dirpath) / f
            try:
                t = p.stat().st_mtime_ns
            except OSError:
                continue
            if t > best_t:
                best, best_t = p, t
    return best


class OutputFolder:
    """``with OutputFolder(root, name, overwrite) as out:`` write into ``out.tmp``; on success
    the folder becomes ``out.final`` (= ``root / name``), on error it is removed.

    Raises (on entry):
        OutputExistsError: ``root/name`` exists and not ``overwrite``.
        OutputBusyError: another live run is writing ``root/name`` and not ``overwrite``.
        OSError: ``root`` cannot be created or written (naming the path).
    """

    def __init__(self, root: str | os.PathLike, name: str, overwrite: bool = False) -> None:
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            raise GLoTError(f"invalid output folder name {name!r}")
        self.root = Path(root)
        self.name = name
        self.overwrite = overwrite
        self.final = self.root / name
        self.tmp = self.root / f".{name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        self._created: list[Path] = []

    def __enter__(self) -> "OutputFolder":
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(self.root))
        self._created = _missing_parents(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with _locked(self.root):
                sweep_stale(self.root)
                if not self.overwrite:
                    if self.final.exists():
                        raise OutputExistsError(f"output folder {self.final} already exists "
                                                "(use --overwrite to replace it)")
                    pid = _reserved(self.root, self.name)
                    if pid is not None:
                        raise OutputBusyError(f"output folder {self.final} is being written by another run "
                                              f"(process {pid})")
                self.tmp.mkdir()
        except BaseException:
            remove_empty_dirs(self._created)
            raise
        return self

    def _commit(self) -> None:
        old = self.root / f".{self.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        with _locked(self.root):
            if self.final.exists() or self.final.is_symlink():
                if not self.overwrite:
                    raise OutputExistsError(f"output folder {self.final} appeared during the run "
                                            "(use --overwrite to replace it)")
                self.final.rename(old)
            try:
                self.tmp.rename(self.final)
            except BaseException:
                if old.exists() or old.is_symlink():
                    old.rename(self.final)  # put the previous result back
                raise
        if old.is_symlink():
            old.unlink()
        elif old.exists():
            shutil.rmtree(old, ignore_errors=True)

    def _discard(self, exc: BaseException | None) -> None:
        if isinstance(exc, OSError) and exc.filename is None and self.tmp.is_dir():
            newest = _newest_file(self.tmp)  # the file being written when the write failed
            exc.filename = str(self.final / newest.relative_to(self.tmp) if newest else self.final)
        shutil.rmtree(self.tmp, ignore_errors=True)
        remove_empty_dirs(self._created)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            self._discard(exc)
            return
        try:
            self._commit()
        except BaseException as err:
            self._discard(err)
            raise
