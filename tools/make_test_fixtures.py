"""Write the repository's copy of the reference fixtures (``tests/fixtures/``) from the original record.

The original ``glot_official_small.pt`` (recorded with the official GLoT code on a synthetic body; see
``tests/fixtures/README.md``) holds two copies of the body's buffers inside its state dict, and three
learnable tensors the official forward never reads. The repository copy drops what can be rebuilt
exactly and zeroes what nothing reads; :func:`glot.testing.load_reference` puts the state dict back
together, key for key, in the official order:

* ``state_dict['*.smpl.*']`` (both SMPL layers' buffers) are removed: they equal the ``smpl`` section
  (``posedirs`` in smplx's ``(207, 3V)`` layout, ``parents`` with ``-1`` at the root, smplx's unused
  default-pose parameters all zero). The tool checks this bit for bit before dropping them.
* ``global_modeling.regressor.fc2.*`` and ``regressor.local_reg.{decshape,deccam}.*`` (never called by
  the forward: zero gradient in both modes) are stored as zeros of the same shape and dtype.

Usage: ``python tools/make_test_fixtures.py ORIGINAL.pt tests/fixtures/glot_official_small.pt``
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glot.testing import UNUSED_REFERENCE_KEYS, rebuild_smpl_buffers  # noqa: E402


def slim(ref: dict) -> dict:
    sd = ref["state_dict"]
    rebuilt = rebuild_smpl_buffers(ref["smpl"], list(sd))
    for k, v in rebuilt.items():
        if not (torch.equal(sd[k], v) and sd[k].dtype == v.dtype):
            raise SystemExit(f"{k}: the stored buffer differs from the one rebuilt from the smpl section")
    out = dict(ref)
    out["state_dict_keys"] = list(sd)
    out["state_dict"] = {k: (torch.zeros_like(v) if k in UNUSED_REFERENCE_KEYS else v)
                         for k, v in sd.items() if k not in rebuilt}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("original", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    ref = torch.load(args.original, map_location="cpu", weights_only=True)
    small = slim(ref)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(small, args.out)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB (original {args.original.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
