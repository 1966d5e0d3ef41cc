"""``python -m glot.testing DIR``: write demo files for trying the commands without licensed data.

Writes ``DIR/assets`` (a synthetic SMPL-format body in the official base_data layout), an
official-format checkpoint ``DIR/glot_random.pth.tar`` with RANDOM weights, and features
``DIR/features.npy`` (4, 16, 2048). Outputs made with these files are meaningless: they only
exercise the plumbing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ..body import MeanParams, SMPLBody
from ..checkpoint import save_official_checkpoint
from ..config import GLoTConfig
from ..model import GLoT
from . import synthetic_smpl_arrays, write_smpl_assets


def write_demo_files(out: Path, spin: bool = False) -> Path:
    """Official-size GLoT with random weights on a 6890-vertex synthetic body, in the official
    base_data layout under ``out/assets`` (``table1_3dpw_weights.pth.tar`` there too), and
    ``out/glot_random.pth.tar``; with ``spin``, a random SPIN-format ResNet-50 as well."""
    arr = synthetic_smpl_arrays(6890)
    assets = write_smpl_assets(arr, out / "assets")
    body = SMPLBody(arr, arr["J_regressor_extra"], vertex_ids=arr["vertex_ids"])
    torch.manual_seed(0)
    model = GLoT(GLoTConfig.preset("repr_table1_3dpw"), body, MeanParams.identity())
    save_official_checkpoint(model, out / "glot_random.pth.tar")
    if spin:
        from .spin import write_spin_checkpoint

        import shutil

        shutil.copyfile(out / "glot_random.pth.tar", assets / "table1_3dpw_weights.pth.tar")
        write_spin_checkpoint(assets / "spin_model_checkpoint.pth.tar")
    return assets


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = Path(argv[0])
    write_demo_files(out)
    np.save(out / "features.npy", np.random.default_rng(0).normal(size=(4, 16, 2048)).astype(np.float32))
    print(f"wrote {out}/assets, {out}/glot_random.pth.tar (random weights) and {out}/features.npy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
