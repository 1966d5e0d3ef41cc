"""Per-browser-session temporary folders.

Each session (one browser tab, one ``gradio_client`` connection) owns a :class:`Session`, kept in
a ``gr.State`` whose delete callback calls :func:`close_session` when the tab closes or the state
expires. Runs write into ``<session>/run-<k>``; starting a run removes the previous one, so a
session holds at most one result on disk.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Session", "new_session", "close_session", "SESSION_PREFIX"]

SESSION_PREFIX = "glot-session-"


@dataclass
class Session:
    """One session's folder and its latest run (``view`` is a :class:`glot.app.handlers.RunView`)."""

    root: Path
    runs: int = 0
    view: Any = None
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the first frame shown for person choice

    def next_run_name(self) -> str:
        """A fresh run folder name; the previous run's folder (if any) is deleted."""
        if self.view is not None:
            shutil.rmtree(self.view.out_dir, ignore_errors=True)
            self.view = None
        self.runs += 1
        return f"run-{self.runs}"

    def subdir(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d


def new_session(base: str | Path | None = None) -> Session:
    """Create a session folder under ``base`` (default: the system temp folder)."""
    return Session(root=Path(tempfile.mkdtemp(prefix=SESSION_PREFIX, dir=base)))


def close_session(session: Session | None) -> None:
    """Delete a session's folder (``gr.State`` delete callback; ``None`` is ignored)."""
    if session is not None:
        shutil.rmtree(session.root, ignore_errors=True)
