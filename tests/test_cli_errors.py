"""``glot run`` on hostile and broken situations: unusable ``--out``, a full disk, same-named
inputs, files shorter than their header says, SIGTERM / kill, bad options. Each ends in one
line (exit 2) or a finished run that says what happened, and leaves nothing half-written.

The runs use the shipped open model (``--model open``, no licensed file) on short clips.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CARPHONE

REPO = Path(__file__).resolve().parents[1]
# OpenCV's sample (Debian opencv-doc): 68 frames, its header says 444
TREE = next((p for p in (Path("/usr/share/doc/opencv-doc/examples/data/tree.avi"),
                         Path("/usr/share/opencv4/samples/data/tree.avi")) if p.is_file()),
            Path("/usr/share/doc/opencv-doc/examples/data/tree.avi"))
FAST = ["--model", "open", "--no-render", "--meshes", "none", "--device", "cpu"]
ENV = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}


def _cli(*args, cwd=None, preexec_fn=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glot", "run", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, preexec_fn=preexec_fn, timeout=timeout)


def _screen_lines(stream: str) -> list[str]:
    """What a terminal shows: per line, the text after the last carriage return (tqdm redraws)."""
    return [line.split("\r")[-1].strip() for line in stream.split("\n")]


def _the_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    errors = [line for line in r.stderr.split("\n") if "error:" in line]
    assert len(errors) == 1, r.stderr[-3000:]
    shown = [line for line in _screen_lines(r.stderr) if "error:" in line]
    assert len(shown) == 1 and shown[0].startswith("error: "), shown  # on its own line, not after a bar
    return shown[0]


def _fast_copy(tmp_path: Path) -> Path:
    """carphone with its index first, so that a cut copy still opens (a phone clip cut short)."""
    import imageio_ffmpeg

    fast = tmp_path / "fast.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(CARPHONE), "-c", "copy",
                    "-movflags", "+faststart", str(fast)], check=True)
    return fast


# ---------------------------------------------------------------- --out problems (item 4)

def test_out_that_is_a_file_is_one_line(tmp_path):
    afile = tmp_path / "results.txt"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        line = _the_error_line(_cli(CARPHONE, "--out", out, *FAST))
        assert str(afile) in line and "not a folder" in line
    assert afile.read_text() == "x"


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder this process cannot write: mode 0555, or (as root, who ignores modes) a read-only
    bind mount where mounting is allowed."""
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(CARPHONE, ro / "clip.mp4")
    if os.geteuid() != 0:
        os.chmod(ro, 0o555)
        yield ro
        os.chmod(ro, 0o755)
        return
    r = subprocess.run(["mount", "--bind", str(ro), str(ro)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("running as root without mount rights: no read-only folder to test")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True, capture_output=True)
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_read_only_out_is_one_line(read_only_dir):
    ro = read_only_dir
    for out in (ro / "out", ro / "new" / "out"):
        line = _the_error_line(_cli(ro / "clip.mp4", "--out", out, *FAST))
        assert str(ro) in line and ("Permission denied" in line or "Read-only file system" in line), line
        assert not (ro / "out").exists() and not (ro / "new").exists()


def _fsize_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.fixture
def tiny_fs(tmp_path):
    """A 96 KiB tmpfs (a disk that fills up), where mounting is allowed; skipped elsewhere."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the file-size-limit case covers a full disk)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.parametrize("how", ["file-size-limit", "tiny-filesystem"])
def test_full_disk_is_one_line_naming_the_file(how, tmp_path, request):
    if how == "tiny-filesystem":
        root = request.getfixturevalue("tiny_fs")
        r = _cli(CARPHONE, "--out", root / "O", *FAST, "--max-frames", "8")
        want = "No space left on device"
    else:
        root = tmp_path
        r = _cli(CARPHONE, "--out", root / "O", *FAST, "--max-frames", "8", preexec_fn=_fsize_limit(64 * 1024))
        want = "File too large"
    line = _the_error_line(r)
    assert str(root / "O" / "carphone_pristine" / "results.npz") in line and want in line, line
    assert "disk is full" in line
    assert not (root / "O").exists()  # the run created O; it leaves nothing, not even an empty O


# ---------------------------------------------------------------- same names, short files (items 5, 9, 10)

def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_same_file_names_get_their_own_folders(tmp_path):
    if not TREE.is_file():
        pytest.skip(f"{TREE} missing: apt-get install opencv-doc")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(CARPHONE, tmp_path / "a" / "clip.mp4")
    shutil.copy(TREE, tmp_path / "b" / "clip.avi")
    out = tmp_path / "O"
    args = [tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.avi", "--out", out, *FAST, "--max-frames", "6"]
    r = _cli(*args, "--overwrite")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "clip.mp4: 1 person tracked over 6 frames" in r.stdout and f"-> {out / 'clip'}\n" in r.stdout
    assert "clip.avi: " in r.stdout and f"-> {out / 'clip-2'}\n" in r.stdout
    # each folder holds its own input; summary.json names the input file, not a path
    assert _summary(out / "clip")["video"] == "clip.mp4" and _summary(out / "clip-2")["video"] == "clip.avi"
    assert _summary(out / "clip")["image_size"] == [176, 144] and _summary(out / "clip-2")["image_size"] == [320, 240]
    before = {p: (p / "results.npz").stat().st_mtime_ns for p in (out / "clip", out / "clip-2")}
    # again without --overwrite: new folders, the earlier ones untouched
    r = _cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"-> {out / 'clip-3'}\n" in r.stdout and f"-> {out / 'clip-4'}\n" in r.stdout
    assert {p: (p / "results.npz").stat().st_mtime_ns for p in before} == before
    assert _summary(out / "clip-3")["video"] == "clip.mp4" and _summary(out / "clip-4")["video"] == "clip.avi"
    assert sorted(p.name for p in out.iterdir()) == ["clip", "clip-2", "clip-3", "clip-4"]


def test_files_shorter_than_their_header_are_processed(tmp_path):
    if not TREE.is_file():
        pytest.skip(f"{TREE} missing: apt-get install opencv-doc")
    cut = tmp_path / "phone_cut.mp4"
    cut.write_bytes(_fast_copy(tmp_path).read_bytes()[:300_000])
    out = tmp_path / "O"
    r = _cli(TREE, cut, "--out", out, *FAST)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "tree.avi: no person was found in this clip (decoded 68 of the 444 frames the file declares)" in r.stdout
    s = _summary(out / "tree")
    assert s["decode"] == {"frames_decoded": 68, "frames_declared": 444, "complete": False,
                           "note": "decoded 68 of the 444 frames the file declares"}
    assert s["frames_seen"] == 68 and "decoded 68 of the 444" in s["message"]
    m = re.search(r"phone_cut\.mp4: 1 person tracked over (\d+) frames .*\(decoded (\d+) of the 120 frames the "
                  r"file declares\)", r.stdout)
    assert m, r.stdout
    n = int(m.group(2))
    assert 10 < n < 120 and int(m.group(1)) == n
    s = _summary(out / "phone_cut")
    assert s["frames_seen"] == n and s["decode"]["complete"] is False
    import numpy as np

    with np.load(out / "phone_cut" / "results.npz") as res:
        assert len(res["frame_index"]) == n and np.isfinite(res["final_pose"][res["valid"]]).all()


# ---------------------------------------------------------------- SIGTERM and kill (item 6)

def _wait_for_partial(out: Path, proc: subprocess.Popen, timeout: float = 300) -> Path:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        found = list(out.glob(".carphone_pristine.partial-*")) if out.is_dir() else []
        if found:
            return found[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the run never started writing")


def test_sigterm_and_kill_leave_nothing_for_good(tmp_path):
    out = tmp_path / "O"
    cmd = [sys.executable, "-m", "glot", "run", str(CARPHONE), "--out", str(out), *FAST]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_partial(out, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, [line for line in _screen_lines(err) if "%|" not in line]
    assert "Traceback" not in err and "terminated" in _screen_lines(err)
    assert not out.exists()  # partial folder removed, and the --out folder this run created

    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stale = _wait_for_partial(out, proc)
    proc.kill()
    proc.wait()
    assert stale.is_dir()  # nothing can clean up after SIGKILL ...
    r = _cli(CARPHONE, "--out", out, *FAST, "--max-frames", "3")
    assert r.returncode == 0, r.stderr[-3000:]
    # ... so the next run into the folder sweeps it; the user's own files stay
    assert sorted(p.name for p in out.iterdir()) == ["carphone_pristine", "keep.txt"]


# ---------------------------------------------------------------- small things (item 10)

@pytest.mark.parametrize("flag", ["--window", "--local-window"])
def test_zero_window_is_rejected(flag, tmp_path):
    line = _the_error_line(_cli(CARPHONE, "--out", tmp_path / "O", *FAST, flag, "0"))
    assert "at least 1" in line and "0" in line
    assert not (tmp_path / "O").exists()


def test_error_line_is_not_printed_on_the_progress_bar(tmp_path, monkeypatch, capsys):
    import glot.pipeline
    import glot.video
    from glot.cli import main
    from glot.pipeline import PipelineError

    def fake_run(video, out, bundle, options, progress=None, name=None):
        progress("track", 0.5, "half way")
        raise PipelineError(f"{Path(video).name}: something went wrong")

    monkeypatch.setattr(glot.pipeline, "run_video", fake_run)
    monkeypatch.setattr(glot.pipeline, "load_bundle", lambda *a, **k: None)
    monkeypatch.setattr(glot.video, "probe_video", lambda path: None)
    assert main(["run", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "O")]) == 2
    err = capsys.readouterr().err
    assert "clip.mp4 track:  50%" in err  # the bar was drawn
    shown = [line for line in _screen_lines(err) if "error:" in line]
    assert shown == ["error: clip.mp4: something went wrong"], err


def test_app_shows_the_cli_line_without_server_paths(tmp_path):
    from glot.app.ui import _error
    from glot.errors import user_message
    from glot.video.decode import VideoError

    exc = PermissionError(13, "Permission denied", "/srv/glot/sessions/glot-session-a1b2/run-3")
    assert user_message(exc) == "/srv/glot/sessions/glot-session-a1b2/run-3: Permission denied"
    assert _error(exc).message == "run-3: Permission denied"
    exc = VideoError("video file not found: /tmp/gradio/5f1e0c2a/clip.mp4")
    assert _error(exc).message == "video file not found: clip.mp4"
