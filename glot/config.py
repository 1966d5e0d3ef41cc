"""GLoT model configuration: one frozen dataclass, with the official presets named.

Field names are the official constructor's (``GLoT(seqlen=..., n_layers=...)``), so official
YAML ``MODEL`` sections and JSON files map onto it directly.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

__all__ = ["GLoTConfig", "OFFICIAL_PRESETS", "load_config_file", "read_mapping_file"]


@dataclass(frozen=True)
class GLoTConfig:
    """Architecture and regularisation of a GLoT model (official defaults: Table 1, 3DPW)."""

    seqlen: int = 16  # T: frames per window; the model predicts frame T // 2
    n_layers: int = 2  # global encoder depth (decoder has n_layers // 2 blocks)
    d_model: int = 512  # global encoder width (decoder width d_model // 2)
    num_head: int = 8  # heads of the global encoder and decoder
    dropout: float = 0.1
    drop_path_r: float = 0.2
    atten_drop: float = 0.0
    mask_ratio: float = 0.5  # training: share of the T frames hidden from the global encoder
    short_n_layers: int = 3  # local encoder depth
    short_d_model: int = 256  # local width (fixed by HSCR's input size in official weights)
    short_num_head: int = 8  # local encoder heads (the cross-attention always has 8)
    short_dropout: float = 0.1
    short_drop_path_r: float = 0.2
    short_atten_drop: float = 0.0
    stride_short: int = 4  # w: the local window is the 2w+1 frames around the centre
    drop_reg_short: float = 0.25  # dropout inside HSCR
    feature_dim: int = 2048  # per-frame static feature width (ResNet-50 = 2048)
    cross_num_head: int = 8  # official: hard-coded 8
    # How KTD joint j reads the global 6D pose: "official" = init_pose[..., j:j+6] (what the
    # released weights were trained with), "joint" = init_pose[..., 6j:6j+6] (the paper's intent).
    ktd_slice: str = "official"

    def __post_init__(self) -> None:
        if self.seqlen < 2 * self.stride_short + 1:
            raise ValueError(f"seqlen {self.seqlen} is shorter than the local window 2*{self.stride_short}+1")
        if self.stride_short < 1:
            raise ValueError("stride_short must be >= 1")
        if self.d_model % 2 or self.d_model % self.num_head or (self.d_model // 2) % self.num_head:
            raise ValueError(f"d_model {self.d_model} must be even and divisible by num_head {self.num_head} (also d_model/2)")
        if self.short_d_model % self.short_num_head or self.short_d_model % self.cross_num_head:
            raise ValueError(f"short_d_model {self.short_d_model} must be divisible by its head counts")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in [0, 1)")
        if self.ktd_slice not in ("official", "joint"):
            raise ValueError("ktd_slice must be 'official' or 'joint'")

    @property
    def local_len(self) -> int:
        """Frames seen by the local branch: 2 * stride_short + 1."""
        return 2 * self.stride_short + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GLoTConfig":
        """Build from a mapping; unknown keys (e.g. ``batch_size``, ``pretrained``) are ignored.

        Keys are case-insensitive, so an official YAML ``MODEL`` section works.
        """
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in d.items():
            k2 = str(k).lower()
            if k2 in names:
                kw[k2] = v
        return cls(**kw)

    def replace(self, **changes: Any) -> "GLoTConfig":
        return replace(self, **changes)

    @classmethod
    def preset(cls, name: str) -> "GLoTConfig":
        """One of :data:`OFFICIAL_PRESETS` (by config file name, with or without ``.yaml``)."""
        key = name[:-5] if name.endswith(".yaml") else name
        if key not in OFFICIAL_PRESETS:
            raise KeyError(f"unknown preset '{name}'; choose from {sorted(OFFICIAL_PRESETS)}")
        return OFFICIAL_PRESETS[key]


_OFFICIAL = GLoTConfig()

# The three official configs share the same MODEL section (seqlen = DATASET.SEQLEN = 16).
OFFICIAL_PRESETS: dict[str, GLoTConfig] = {
    "repr_table1_3dpw": _OFFICIAL,
    "repr_table1_h36m_mpii3d": _OFFICIAL,
    "repr_table2_3dpw": _OFFICIAL,
}


def read_mapping_file(path: str | Path) -> Mapping[str, Any]:
    """A JSON (``.json``) or YAML (anything else) file holding a mapping."""
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of settings")
    return data


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read GLoT constructor values from a JSON or YAML file.

    Accepts a flat mapping of constructor names, or an official config (``MODEL:`` section plus
    ``DATASET: {SEQLEN: ...}``). Returns the flat mapping (lower-case keys).
    """
    data = read_mapping_file(path)
    flat: dict[str, Any] = {}
    upper = {str(k).upper(): v for k, v in data.items()}
    if "MODEL" in upper and isinstance(upper["MODEL"], Mapping):
        flat.update({str(k).lower(): v for k, v in upper["MODEL"].items()})
        ds = upper.get("DATASET")
        if isinstance(ds, Mapping):
            for k, v in ds.items():
                if str(k).upper() == "SEQLEN":
                    flat["seqlen"] = v
    else:
        flat.update({str(k).lower(): v for k, v in data.items()})
    return flat
