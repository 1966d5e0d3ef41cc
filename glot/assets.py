"""Locating the licensed files the project cannot ship (the one place that does it).

Search order for a file name:

1. an explicit folder passed by the caller (``assets_dir``);
2. the folder named by the ``GLOT_ASSETS`` environment variable;
3. ``checkpoints/`` beside the ``glot`` package (the repository's own folder);
4. a Hugging Face Hub repo named by ``GLOT_HF_REPO`` (Spaces), through ``huggingface_hub``
   (honours ``HF_HUB_OFFLINE`` and its cache).

A missing file raises :class:`AssetNotFoundError`, which names every place looked at and where
the file can be obtained. Nothing is ever replaced by random weights silently.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from .errors import GLoTError

__all__ = [
    "ASSETS_ENV",
    "HUB_REPO_ENV",
    "DEFAULT_ASSETS_DIR",
    "AssetNotFoundError",
    "ASSET_SOURCES",
    "search_dirs",
    "find_asset",
    "find_smpl_model",
    "asset_report",
]

ASSETS_ENV = "GLOT_ASSETS"
HUB_REPO_ENV = "GLOT_HF_REPO"
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parent.parent / "checkpoints"

_SMPL_SITE = "https://smpl.is.tue.mpg.de (registration needed; male/female models)"
_SMPLIFY_SITE = (
    "https://smplify.is.tue.mpg.de (registration needed; rename "
    "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl to SMPL_NEUTRAL.pkl)"
)
_BASE_DATA = (
    "the GLoT/VIBE 'base_data' folder linked from https://github.com/sxl142/GLoT#data-preparation "
    "(also fetched by VIBE's scripts/prepare_data.sh)"
)

# file name -> where users get it
ASSET_SOURCES: dict[str, str] = {
    "SMPL_NEUTRAL.pkl": _SMPLIFY_SITE,
    "SMPL_NEUTRAL.npz": _SMPLIFY_SITE + " (an .npz with the same arrays also works)",
    "SMPL_MALE.pkl": _SMPL_SITE,
    "SMPL_FEMALE.pkl": _SMPL_SITE,
    "J_regressor_extra.npy": _BASE_DATA,
    "J_regressor_h36m.npy": _BASE_DATA,
    "smpl_mean_params.npz": _BASE_DATA,
    "spin_model_checkpoint.pth.tar": _BASE_DATA + " (SPIN's released model, https://github.com/nkolot/SPIN)",
    "glot": (
        "the GLoT models folder linked from https://github.com/sxl142/GLoT#data-preparation "
        "(e.g. table1_3dpw_weights.pth.tar)"
    ),
}


class AssetNotFoundError(GLoTError, FileNotFoundError):
    """A required asset is missing; the message says where we looked and where to get it."""

    def __init__(self, name: str, looked: Sequence[Path | str], source: str | None = None):
        self.name = name
        self.looked = [str(p) for p in looked]
        src = source or ASSET_SOURCES.get(name, "see README.md, section 'Model files'")
        places = ", ".join(self.looked) if self.looked else "(no folder configured)"
        super().__init__(
            f"missing file '{name}': looked in {places}. Get it from {src} and put it in "
            f"{DEFAULT_ASSETS_DIR} (or a folder named by ${ASSETS_ENV})."
        )


def search_dirs(assets_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order (only those that are configured)."""
    dirs: list[Path] = []
    if assets_dir is not None:
        dirs.append(Path(assets_dir))
    env = os.environ.get(ASSETS_ENV)
    if env:
        dirs.append(Path(env))
    dirs.append(DEFAULT_ASSETS_DIR)
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _from_hub(name: str) -> Path | None:
    repo = os.environ.get(HUB_REPO_ENV)
    if not repo:
        return None
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - optional dependency
        return None
    try:
        return Path(hf_hub_download(repo_id=repo, filename=name))
    except (EntryNotFoundError, LocalEntryNotFoundError, FileNotFoundError):
        return None
    except Exception:  # network or auth failure: treat as not found, the error names the repo
        return None


def find_asset(
    name: str | Iterable[str],
    assets_dir: str | os.PathLike | None = None,
    required: bool = True,
) -> Path | None:
    """Find the first existing file among ``name`` (a name or several alternatives).

    Returns the path, or ``None`` when ``required`` is False and nothing is found.
    """
    names = [name] if isinstance(name, str) else list(name)
    dirs = search_dirs(assets_dir)
    for n in names:
        p = Path(n)
        if p.is_absolute() or p.parent != Path("."):
            if p.is_file():
                return p
            continue
        for d in dirs:
            if (d / n).is_file():
                return d / n
    for n in names:
        hub = _from_hub(n)
        if hub is not None and hub.is_file():
            return hub
    if not required:
        return None
    looked = [str(d) for d in dirs]
    if os.environ.get(HUB_REPO_ENV):
        looked.append(f"hf://{os.environ[HUB_REPO_ENV]}")
    raise AssetNotFoundError(" or ".join(names), looked, ASSET_SOURCES.get(names[0]))


def find_smpl_model(gender: str = "neutral", assets_dir: str | os.PathLike | None = None, required: bool = True) -> Path | None:
    """The SMPL model file for ``gender`` (``.pkl`` or ``.npz``)."""
    g = gender.upper()
    return find_asset([f"SMPL_{g}.pkl", f"SMPL_{g}.npz"], assets_dir, required=required)


def asset_report(assets_dir: str | os.PathLike | None = None) -> dict[str, str | None]:
    """Which of the known files were found (path) or not (None): for the app's model panel."""
    report: dict[str, str | None] = {}
    for n in ("SMPL_NEUTRAL", "J_regressor_extra.npy", "J_regressor_h36m.npy", "smpl_mean_params.npz",
              "spin_model_checkpoint.pth.tar"):
        if n == "SMPL_NEUTRAL":
            p = find_smpl_model("neutral", assets_dir, required=False)
        else:
            p = find_asset(n, assets_dir, required=False)
        report[n] = str(p) if p else None
    return report
