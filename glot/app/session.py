"""Per-browser-session temporary folders.

Each session (one browser tab, one ``gradio_client`` connection) owns a :class:`Session`, kept in
a ``gr.State`` whose delete callback calls :func:`close_session` when the tab closes or the state
expires. Runs write into ``<session>/run-<k>``; starting a run removes the previous one, so a
session holds at most one result on disk. Folders are named ``glot-session-<pid>-...``: at start-up
:func:`sweep_stale_sessions` removes those of processes that are gone (a killed app).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Session", "new_session", "close_session", "sweep_stale_sessions", "SESSION_PREFIX"]

SESSION_PREFIX = "glot-session-"


@dataclass
class Session:
    """One session's folder, its latest run (``view``: a :class:`glot.app.results_view.RunView`) and
    the cancel flag of the run in progress."""

    root: Path
    runs: int = 0
    view: Any = None
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the first frame shown for person choice
    cancel: threading.Event = field(default_factory=threading.Event)

    def next_run_name(self) -> str:
        """A fresh run folder name; the previous run's folder (if any) is deleted."""
        if self.view is not None:
            shutil.rmtree(self.view.out_dir, ignore_errors=True)
            self.view = None
        self.runs += 1
        return f"run-{self.runs}"

    def start_run(self) -> threading.Event:
        """A fresh cancel flag for the run that starts now (a previous run's is set)."""
        self.cancel.set()
        self.cancel = threading.Event()
        return self.cancel

    def subdir(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d


def new_session(base: str | Path | None = None) -> Session:
    """Create a session folder under ``base`` (default: the system temp folder)."""
    return Session(root=Path(tempfile.mkdtemp(prefix=f"{SESSION_PREFIX}{os.getpid()}-", dir=base)))


def close_session(session: Session | None) -> None:
    """Stop the session's run and delete its folder (``gr.State`` delete callback; ``None`` is ignored)."""
    if session is not None:
        session.cancel.set()
        shutil.rmtree(session.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_stale_sessions(base: str | Path | None = None, own_too: bool = False) -> list[Path]:
    """Remove session folders under ``base`` (default: the temp folder) whose app process is gone
    (or all of this process's, with ``own_too``). Returns what was removed."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    for d in base.glob(f"{SESSION_PREFIX}*"):
        pid_text = d.name[len(SESSION_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if (pid == os.getpid() and own_too) or (pid != os.getpid() and not _alive(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed
