"""Four ``gradio_client`` clients at once against the running app: each gets its own results."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from conftest import CARPHONE
from helpers_export import read_glb
from glot.testing.app_server import running_app

# /run's outputs without the session state: status, model panel, preview, overlay, fps, frame, person, thumbnails,
# downloads, ...
RUN_DOWNLOADS = 8
# (max frames, mask pattern, mask ratio, seed): different frame counts and seeds per client
JOBS = [(8, "none", 0.0, 0), (12, "random", 0.5, 1), (16, "random", 0.5, 2), (10, "block", 0.3, 0)]


def _run(url: str, job, out: dict, key: int) -> None:
    from gradio_client import Client, handle_file

    try:
        n, pattern, ratio, seed = job
        client = Client(url, verbose=False)
        res = client.predict(handle_file(str(CARPHONE)), 16, 4, ratio, pattern, seed, "clamp", "fp32", "", n, 0,
                             api_name="/run")
        frame = client.predict(n - 1, None, api_name="/frame")  # same client = same session
        out[key] = (res, frame)
    except Exception as err:  # reported by the test
        out[key] = err


def test_four_concurrent_clients(pipeline_assets, tmp_path):
    out: dict = {}
    with running_app(tmp_path, pipeline_assets) as url:
        threads = [threading.Thread(target=_run, args=(url, job, out, k)) for k, job in enumerate(JOBS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
        session_dirs = sorted((tmp_path / "tmp").glob("glot-session-*"))
    errors = {k: v for k, v in out.items() if isinstance(v, Exception)}
    assert not errors and len(out) == 4, errors
    assert len(session_dirs) == 4  # one temporary folder per client
    files_seen = set()
    for k, (n, pattern, ratio, seed) in enumerate(JOBS):
        res, frame = out[k]
        status, downloads = res[0], res[RUN_DOWNLOADS]  # the session state is not part of the API
        assert f"1 person tracked over {n} frames" in status
        paths = {Path(p).name: Path(p) for p in downloads}
        assert set(paths) == {"results.npz", "overlay.mp4", "summary.json", "motion_global.glb", "motion_final.glb",
                              "motion_global.bvh", "motion_final.bvh"}
        files_seen |= {str(p) for p in paths.values()}
        r = np.load(paths["results.npz"])
        assert r["frame_index"].tolist() == list(range(n))
        s = json.loads(paths["summary.json"].read_text())
        assert s["options"]["seed"] == seed and s["options"]["mask_pattern"] == pattern
        glb, motion, _, caption = frame[:4]
        assert Path(glb).name == f"frame_{n - 1:06d}_id1.glb" and f"frame {n - 1}" in caption
        played, own = (read_glb(Path(f).read_bytes()) for f in (motion, paths["motion_final.glb"]))
        assert Path(motion).name == "motion_final.glb" and played[1] == own[1]  # this client's motion, camera-less
        assert "cameras" not in played[0] and played[0]["animations"] == own[0]["animations"]
    assert len(files_seen) == 4 * 7  # nobody got another's files
    # the two random-mask clients used their own seeds: their first 12 frames differ
    a = np.load(next(Path(p) for p in out[1][0][RUN_DOWNLOADS] if p.endswith("results.npz")))["global_pose"][0]
    b = np.load(next(Path(p) for p in out[2][0][RUN_DOWNLOADS] if p.endswith("results.npz")))["global_pose"][0, :12]
    assert not np.allclose(a, b, atol=1e-5)
