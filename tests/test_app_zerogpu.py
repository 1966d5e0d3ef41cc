"""ZeroGPU's pattern with a stand-in ``spaces`` package: models built at start-up, only the GPU work
(ResNet-50, GLoT, skinning) inside ``spaces.GPU`` with a duration from the work's size, and nothing
else (decode, MediaPipe, render, export, encoding) in the slot."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import CARPHONE

REPO = Path(__file__).resolve().parents[1]

STAND_IN = '''
"""Stand-in for Hugging Face's ``spaces`` package: records decorations and slot calls."""
import threading

DECORATED, CALLS, VIOLATIONS = [], [], []
_state = threading.local()


class config:
    class Config:
        zero_gpu = True


def inside() -> bool:
    return getattr(_state, "inside", False)


def _tensors(x):
    import dataclasses
    import torch
    if torch.is_tensor(x):
        return True
    if dataclasses.is_dataclass(x):
        return any(_tensors(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, (tuple, list)):
        return any(_tensors(v) for v in x)
    if isinstance(x, dict):
        return any(_tensors(v) for v in x.values())
    return False


def GPU(fn=None, duration=60):
    def deco(f):
        DECORATED.append(f"{f.__module__}.{f.__qualname__}")

        def wrapper(*args, **kwargs):
            seconds = duration(*args, **kwargs) if callable(duration) else duration
            CALLS.append((getattr(args[0], "__name__", "?"), kwargs.get("work"), seconds))
            _state.inside = True
            try:
                out = f(*args, **kwargs)
            finally:
                _state.inside = False
            if _tensors(out):
                VIOLATIONS.append(f"{args[0].__name__} returned torch tensors out of the GPU slot")
            return out
        return wrapper
    return deco(fn) if fn is not None else deco
'''

SCRIPT = r'''
import json, os, sys
import torch
from torch.overrides import TorchFunctionMode
import spaces

import glot.app.gpu as gpu
assert gpu.zero_gpu(), "the stand-in says ZeroGPU"
os.environ.pop("GLOT_DEVICE")
assert gpu.app_device() == "cuda", "on ZeroGPU the models go to cuda"
os.environ["GLOT_DEVICE"] = "cpu"  # this machine has no GPU: keep the tensors on the CPU

from glot.app import ui, handlers as h
demo = ui.build_demo()
cache = next(c.cell_contents for fn in [demo.fns[k].fn for k in demo.fns] if fn.__closure__
             for c in fn.__closure__ if isinstance(c.cell_contents, h.ModelCache))
bundle = cache.loaded
assert bundle is not None, "the model bundle is built at start-up (module level)"

# model tensors: any torch call that touches them outside the slot is a GPU use out of place
storages = {t.untyped_storage().data_ptr() for m in (bundle.glot, bundle.backbone) if m is not None
            for t in list(m.parameters()) + list(m.buffers())}

class Guard(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not spaces.inside():
            for a in list(args) + list(kwargs.values()):
                if torch.is_tensor(a) and a.untyped_storage().data_ptr() in storages:
                    spaces.VIOLATIONS.append(f"{getattr(func, '__name__', func)} on model tensors outside the slot")
                    break
        return func(*args, **kwargs)

def outside(owner, name):
    fn = getattr(owner, name)
    def wrapped(*a, **k):
        if spaces.inside():
            spaces.VIOLATIONS.append(f"{name} ran inside the GPU slot")
        return fn(*a, **k)
    setattr(owner, name, wrapped)

import glot.pipeline.run as run, glot.render as render, glot.render.video_writer as vw
import glot.pipeline.features as feats
for owner, name in ((run, "iter_frames"), (run, "_track"), (render.MeshRenderer, "render"), (run, "mesh_to_glb"),
                    (vw.VideoWriter, "write"), (feats, "crop_frames")):
    outside(owner, name)
try:
    import glot.export as export
    for name in ("write_motion_glb", "write_motion_bvh"):
        outside(run, name) if hasattr(run, name) else None
except ImportError:
    pass

from glot.app.session import new_session, close_session
sess = new_session()
opts = h.check_video(sys.argv[1], h.make_options(16, 4, 0.0, "none", 0, "clamp", "fp32", 12))
run_video = run.run_video
def guarded(*a, **k):  # modes are per thread: the run's worker thread enters the guard itself
    with Guard():
        return run_video(*a, **k)
run.run_video = guarded
events = list(h.iter_run(sys.argv[1], sess, bundle, opts))
view = events[-1].view
out = {"decorated": spaces.DECORATED, "calls": spaces.CALLS, "violations": spaces.VIOLATIONS,
       "frames": view.num_frames, "people": view.num_people,
       "seconds": [gpu.gpu_seconds(None, work=w) for _, w, _ in spaces.CALLS]}
close_session(sess)
print("RESULT " + json.dumps(out))
'''


def test_zerogpu_slot_holds_only_the_gpu_work(tmp_path, pipeline_assets):
    stand_in = tmp_path / "stand_in" / "spaces"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text(STAND_IN)
    env = {**os.environ, "PYTHONPATH": f"{stand_in.parent}{os.pathsep}{REPO}", "GLOT_ASSETS": str(pipeline_assets),
           "GLOT_DEVICE": "cpu", "TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "OMP_NUM_THREADS": "2"}
    env.pop("GLOT_HF_REPO", None)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), str(CARPHONE)], env=env, capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, r.stdout[-2000:] + r.stderr[-3000:]
    out = json.loads(line[len("RESULT "):])
    assert out["frames"] == 12 and out["people"] == 1
    assert out["decorated"] == ["glot.app.gpu._call"]  # one slot function, decorated at import
    assert out["violations"] == []
    kinds = {name for name, _, _ in out["calls"]}
    assert kinds == {"_resnet", "_forward_windows", "_pose"}  # ResNet-50, GLoT, skinning: nothing else
    assert all(w and w > 0 for _, w, _ in out["calls"])
    assert [s for _, _, s in out["calls"]] == out["seconds"]  # the duration comes from the work's size
    assert sum(w for name, w, _ in out["calls"] if name == "_forward_windows") == 12  # one window per frame
