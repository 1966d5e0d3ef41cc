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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = Path(argv[0])
    arr = synthetic_smpl_arrays(6890)
    write_smpl_assets(arr, out / "assets")
    body = SMPLBody(arr, arr["J_regressor_extra"], vertex_ids=arr["vertex_ids"])
    torch.manual_seed(0)
    model = GLoT(GLoTConfig.preset("repr_table1_3dpw"), body, MeanParams.identity())
    save_official_checkpoint(model, out / "glot_random.pth.tar")
    np.save(out / "features.npy", np.random.default_rng(0).normal(size=(4, 16, 2048)).astype(np.float32))
    print(f"wrote {out}/assets, {out}/glot_random.pth.tar (random weights) and {out}/features.npy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
