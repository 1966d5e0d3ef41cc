"""Shared test fixtures: the official reference record and synthetic SMPL asset folders."""
from __future__ import annotations

import pytest
import torch

from glot.testing import fixtures_dir, load_reference, write_smpl_assets

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def ref():
    """The official reference record (``glot_official_small.pt``)."""
    path = fixtures_dir() / "glot_official_small.pt"
    if not path.is_file():
        pytest.fail(f"reference fixtures not found at {path} (set GLOT_FIXTURES)")
    return load_reference()


@pytest.fixture(scope="session")
def smpl_assets(ref, tmp_path_factory):
    """A folder in the official base_data layout written from the fixture's synthetic SMPL."""
    return write_smpl_assets(ref["smpl"], tmp_path_factory.mktemp("assets"))
