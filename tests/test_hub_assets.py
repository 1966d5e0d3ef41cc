"""Weights from a Hugging Face Hub repo (``GLOT_HF_REPO``), offline: a pre-seeded hub cache and
``HF_HUB_OFFLINE=1``, so huggingface_hub's real download code resolves the files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HUB_REPO = "glot-test/glot-weights"
REVISION = "0123456789abcdef0123456789abcdef01234567"

SCRIPT = """
import json
from glot.app.handlers import ModelCache, model_report
from glot.assets import find_asset, AssetNotFoundError
cache = ModelCache(device="cpu")
before = model_report(cache)
bundle = cache.get()
try:
    find_asset("not_in_the_repo.npy")
    missing = ""
except AssetNotFoundError as err:
    missing = str(err)
print(json.dumps({"before": before, "describe": bundle.describe(), "missing": missing}))
"""


def _seed_cache(cache: Path, files: Path) -> Path:
    """Lay ``files`` out as huggingface_hub's cache of ``HUB_REPO`` at ``REVISION``."""
    repo_dir = cache / ("models--" + HUB_REPO.replace("/", "--"))
    snap = repo_dir / "snapshots" / REVISION
    snap.mkdir(parents=True)
    for f in files.iterdir():
        shutil.copyfile(f, snap / f.name)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(REVISION)
    return snap


def test_weights_from_hub_cache_offline(pipeline_assets, tmp_path):
    snap = _seed_cache(tmp_path / "hub", pipeline_assets)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOT_", "HF_"))}
    env.update(GLOT_HF_REPO=HUB_REPO, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"),
               HF_HOME=str(tmp_path / "hf_home"), PYTHONPATH=str(REPO_ROOT))
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    d = out["describe"]
    assert d["checkpoint"] == str(snap / "table1_3dpw_weights.pth.tar")
    assert d["feature_extractor"] == str(snap / "spin_model_checkpoint.pth.tar")
    assert "All files found" in out["before"] and str(snap) in out["before"]
    assert f"hf://{HUB_REPO}" in out["missing"]
