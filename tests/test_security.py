"""Hostile model files: SMPL pickles and torch checkpoints that would run code are refused with
one line naming the global; real-format files still load.

Every gadget is first shown to be real: the plain unpickler (or ``weights_only=False``) runs it
and creates its marker file. Then GLoT's readers must refuse it and the marker must not appear.
"""
from __future__ import annotations

import functools
import os
import pickle
import pickletools
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from glot.body.files import BodyFileError, read_smpl_file, write_smpl_assets
from glot.checkpoint import CheckpointError, read_state_dict
from glot.errors import UnsafeFileError
from glot.model.backbone import load_spin_backbone

REPO = Path(__file__).resolve().parents[1]


class _Call:
    """Pickles as ``func(*args)``: the building block of every gadget."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *a):  # pickle requires the reduce callable of a nested _Call to look callable
        raise AssertionError


def _touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _gadgets(marker: Path) -> dict[str, tuple[object, int]]:
    """name -> (object whose unpickling creates ``marker``, pickle protocol)."""
    code = _touch_code(marker)
    getattr_chain = _Call(_Call(getattr, _Call(__import__, "os"), "system"), f"touch {marker}")
    return {
        "exec": (_Call(exec, code), 2),
        "eval": (_Call(eval, code), 4),
        "os.system": (_Call(os.system, f"touch {marker}"), 2),
        "subprocess.Popen": (_Call(subprocess.Popen, ["touch", str(marker)]), 4),
        "getattr-chain": (getattr_chain, 2),
        "functools.partial": (_Call(_Call(functools.partial, os.system, f"touch {marker}")), 4),
        "numpy-runstring": (_Call(np.testing._private.utils.runstring, code, {}), 2),
        # an object array whose element reduces to os.system: the call hides inside the array state
        "nested-in-array": ({"v_template": np.array([_Call(os.system, f"touch {marker}")], dtype=object)}, 2),
    }


def _dotted_global_gadget(marker: Path) -> bytes:
    """Protocol 4 resolves ``numpy`` + ``lib.npyio.os.system`` by attribute chain: a module the
    reader trusts, a name that walks to ``os.system``."""
    def u(s: str) -> bytes:
        b = s.encode()
        return b"\x8c" + bytes([len(b)]) + b

    return (b"\x80\x04" + u("numpy") + u("lib.npyio.os.system") + b"\x93" + u(f"touch {marker}") + b"\x85R.")


def _write(path: Path, obj: object, protocol: int) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("name", ["exec", "eval", "os.system", "subprocess.Popen", "getattr-chain",
                                  "functools.partial", "numpy-runstring", "nested-in-array", "dotted-name"])
def test_smpl_gadget_pickles_never_run(name, tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    if name == "dotted-name":
        path.write_bytes(_dotted_global_gadget(marker))
    else:
        obj, proto = _gadgets(marker)[name]
        _write(path, obj, proto)
    # the gadget is real: a plain unpickler runs it
    pickle.loads(path.read_bytes(), encoding="latin1")
    for _ in range(50):  # Popen runs touch in a child process
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists(), "gadget did not run with the plain unpickler"
    marker.unlink()

    with pytest.raises(UnsafeFileError) as err:
        read_smpl_file(path)
    msg = str(err.value)
    assert "\n" not in msg and "refused" in msg and str(path) in msg
    time.sleep(0.2)
    assert not marker.exists()


def test_refusal_names_the_global(tmp_path):
    marker = tmp_path / "PWNED"
    path = _write(tmp_path / "m.pkl", _Call(exec, _touch_code(marker)), 2)
    with pytest.raises(UnsafeFileError, match=r"refers to builtins\.exec"):
        read_smpl_file(path)
    path = _write(tmp_path / "m.pkl", _Call(os.system, "true"), 2)
    with pytest.raises(UnsafeFileError, match=r"refers to posix\.system|refers to nt\.system"):
        read_smpl_file(path)


# ---------------------------------------------------------------- real-format SMPL files

class _FakeCh:
    """Pickles like chumpy's ``Ch`` (``__getstate__`` = its ``__dict__`` minus weak refs)."""

    def __init__(self, x):
        self.x = np.asarray(x, np.float64)
        self._dirty_vars = {"x"}
        self._itr = None
        self._depends_on_deps = {}
        self._make_dense = False
        self._make_sparse = False

    def __getstate__(self):
        return dict(self.__dict__)


class _FakeSelect(_FakeCh):
    """A chumpy expression (not a stored array)."""


@pytest.fixture
def fake_chumpy(monkeypatch):
    """Modules ``chumpy`` / ``chumpy.ch`` so that pickle writes ``chumpy.ch.Ch`` as the class."""
    pkg, mod, reo = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch"), types.ModuleType("chumpy.reordering")
    _FakeCh.__module__, _FakeCh.__qualname__, _FakeCh.__name__ = "chumpy.ch", "Ch", "Ch"
    _FakeSelect.__module__, _FakeSelect.__qualname__, _FakeSelect.__name__ = "chumpy.reordering", "Select", "Select"
    mod.Ch, reo.Select = _FakeCh, _FakeSelect
    for name, m in (("chumpy", pkg), ("chumpy.ch", mod), ("chumpy.reordering", reo)):
        monkeypatch.setitem(sys.modules, name, m)
    return _FakeCh


def _official_layout(smpl: dict, ch) -> dict:
    """The released ``basicModel_*.pkl`` layout: chumpy shapedirs / v_template, sparse J_regressor."""
    d = {k: np.asarray(smpl[k].numpy() if torch.is_tensor(smpl[k]) else smpl[k])
         for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    d["kintree_table"] = d["kintree_table"].astype(np.int64)
    d["f"] = d["f"].astype(np.uint32)
    d["shapedirs"], d["v_template"] = ch(d["shapedirs"]), ch(d["v_template"])
    d["J_regressor"] = sp.csc_matrix(d["J_regressor"])
    d["J_regressor_prior"] = sp.csc_matrix(d["J_regressor"])
    d["weights_prior"] = d["weights"].copy()
    d["J"] = np.zeros((24, 3))
    d["vert_sym_idxs"] = np.arange(len(d["weights"]))
    d["bs_style"], d["bs_type"] = "lbs", "lrotmin"
    d["pose_training_info"] = {"bodyparts": [1, 2], "nsubj": 3}
    return d


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_official_format_smpl_pickle_loads(ref, fake_chumpy, tmp_path, protocol):
    plain = read_smpl_file(write_smpl_assets(ref["smpl"], tmp_path / "npz", fmt="npz") / "SMPL_NEUTRAL.npz")
    data = pickle.dumps(_official_layout(ref["smpl"], fake_chumpy), protocol=protocol)
    # the released files were written by scipy < 1.8, whose csc_matrix lived in scipy.sparse.csc
    data = data.replace(b"scipy.sparse._csc", b"scipy.sparse.csc") if protocol < 4 else data
    globals_used = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    if protocol == 2:
        assert {"chumpy.ch Ch", "scipy.sparse.csc csc_matrix", "__builtin__ set"} <= globals_used
    if protocol == 0:
        assert {"copy_reg _reconstructor", "__builtin__ object"} <= globals_used
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(data)
    got = read_smpl_file(path)
    for k, v in plain.items():
        assert got[k].shape == v.shape and np.array_equal(got[k], v), k


def test_chumpy_expression_is_not_taken_for_an_array(ref, fake_chumpy, tmp_path):
    d = _official_layout(ref["smpl"], fake_chumpy)
    d["shapedirs"] = _FakeSelect(d["shapedirs"].x)  # e.g. a reordering: its 'x' is not the value
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(BodyFileError, match="shapedirs.*chumpy Select"):
        read_smpl_file(path)


def test_damaged_smpl_files_are_one_line_body_errors(ref, tmp_path):
    good = write_smpl_assets(ref["smpl"], tmp_path / "a") / "SMPL_NEUTRAL.pkl"
    cases = {"truncated.pkl": good.read_bytes()[:5000], "text.pkl": b"hello\n",
             "list.pkl": pickle.dumps([1, 2, 3])}
    d = read_smpl_file(good)
    d["J_regressor"] = d["J_regressor"][:, :10]
    cases["shape.pkl"] = pickle.dumps(d)
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BodyFileError) as err:
            read_smpl_file(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value), name
    with pytest.raises(BodyFileError, match="J_regressor has shape"):
        read_smpl_file(tmp_path / "shape.pkl")


# ---------------------------------------------------------------- torch checkpoints

def _evil_checkpoint(path: Path, ref, marker: Path) -> Path:
    torch.save({"gen_state_dict": ref["state_dict"], "epoch": _Call(os.system, f"touch {marker}")}, path)
    return path


def test_malicious_checkpoint_is_refused_as_code(ref, tmp_path):
    marker = tmp_path / "PWNED"
    path = _evil_checkpoint(tmp_path / "table1_3dpw_weights.pth.tar", ref, marker)
    torch.load(path, weights_only=False)  # the gadget is real
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UnsafeFileError) as err:
        read_state_dict(path)
    msg = str(err.value)
    assert "contains code" in msg and "posix.system" in msg and str(path) in msg and "\n" not in msg
    assert "weights_only" not in msg and "truncated" not in msg and "will likely succeed" not in msg
    assert not marker.exists()
    # the SPIN backbone loader says the same
    spin = tmp_path / "spin_model_checkpoint.pth.tar"
    torch.save({"model": {}, "x": _Call(eval, _touch_code(marker))}, spin)
    with pytest.raises(UnsafeFileError, match=r"contains code \(builtins\.eval\)"):
        load_spin_backbone(spin)
    assert not marker.exists()
    # a damaged file is still called damaged, without torch's advice
    bad = tmp_path / "cut.pth.tar"
    bad.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        read_state_dict(bad)
    assert "weights_only" not in str(err.value)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "glot", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_cli_refusals_are_one_line(ref, smpl_assets, tmp_path):
    marker = tmp_path / "PWNED"
    feats = tmp_path / "f.npy"
    np.save(feats, ref["eval"]["features"].numpy())
    evil = _evil_checkpoint(tmp_path / "evil.pth.tar", ref, marker)
    r = _cli("predict-features", "--checkpoint", str(evil), "--assets", str(smpl_assets), "--features", str(feats),
             "--out", str(tmp_path / "o.npz"), "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "posix.system" in lines[0]
    # a checkpoint without the body reads SMPL_NEUTRAL.pkl: a crafted one is refused, not run
    assets = write_smpl_assets(ref["smpl"], tmp_path / "assets")
    _write(assets / "SMPL_NEUTRAL.pkl", _Call(exec, _touch_code(marker)), 2)
    nobody = tmp_path / "nobody.pth.tar"
    torch.save({"gen_state_dict": {k: v for k, v in ref["state_dict"].items() if ".smpl." not in k}}, nobody)
    r = _cli("predict-features", "--checkpoint", str(nobody), "--assets", str(assets), "--features", str(feats),
             "--out", str(tmp_path / "o.npz"), "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "builtins.exec" in lines[0] and "SMPL_NEUTRAL.pkl" in lines[0]
    # a damaged SMPL file: one line too
    (assets / "SMPL_NEUTRAL.pkl").write_bytes(b"\x80\x02}q\x00")
    r = _cli("predict-features", "--checkpoint", str(nobody), "--assets", str(assets), "--features", str(feats),
             "--out", str(tmp_path / "o.npz"), "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert len(r.stderr.strip().splitlines()) == 1 and "SMPL_NEUTRAL.pkl" in r.stderr
    assert not marker.exists() and not (tmp_path / "o.npz").exists()
