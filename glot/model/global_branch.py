"""Global Motion Modeling (GMM): masked transformer encoder-decoder over the whole window,
then SPIN's iterative regressor per frame."""
from __future__ import annotations

import torch
from torch import nn

from ..body.files import MeanParams
from ..body.smpl import SMPLBody
from ..config import GLoTConfig
from .layers import LN_EPS, make_blocks, resample_time
from .regressor import NCAM, NPOSE, NSHAPE, IterativeRegressor

__all__ = ["GlobalTransformer", "GlobalBranch", "key_padding"]


def key_padding(mask: torch.Tensor | None) -> torch.Tensor | None:
    """Attention mask ``(B, 1, 1, T)`` allowing only unmasked frames as keys.

    Rows with every frame masked attend to all frames instead (their outputs are never used).
    """
    if mask is None:
        return None
    keep = ~mask
    keep = keep | ~keep.any(dim=1, keepdim=True)
    return keep[:, None, None, :]


class GlobalTransformer(nn.Module):
    """Encoder over visible frames; decoder over all frames, masked slots = mean-pose token."""

    def __init__(self, cfg: GLoTConfig, mean: MeanParams) -> None:
        super().__init__()
        d, dh = cfg.d_model, cfg.d_model // 2
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.seqlen, d))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, cfg.seqlen, dh))
        self.mask_token_mlp = nn.Sequential(
            nn.Linear(NPOSE + NSHAPE + NCAM, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, dh)
        )
        self.blocks = make_blocks(cfg.n_layers, d, cfg.num_head, d * 4, cfg.dropout, cfg.atten_drop, cfg.drop_path_r)
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        # official: n_layers // 2 decoder blocks, drop-path rates from the encoder's schedule
        self.decoder_blocks = make_blocks(cfg.n_layers // 2, dh, cfg.num_head, d * 2, cfg.dropout, cfg.atten_drop,
                                          cfg.drop_path_r, rate_depth=cfg.n_layers)
        self.decoder_embed = nn.Linear(d, dh)
        self.decoder_norm = nn.LayerNorm(dh, eps=LN_EPS)
        # mean parameters feeding the mask token (smpl_mean_params.npz; not in official state dicts)
        self.register_buffer("mask_token_input", mean.concat().reshape(1, 1, -1), persistent=False)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``x (B, T, d)`` -> memory ``(B, T, d)`` (rows of masked frames are meaningless)."""
        x = x + resample_time(self.pos_embed, x.shape[1])
        attn_mask = key_padding(mask)
        for blk in self.blocks:
            x = blk(x, attn_mask)
        return self.norm(x)

    def decode(self, mem: torch.Tensor, mask: torch.Tensor | None, frames: slice | None = None) -> torch.Tensor:
        """memory ``(B, T, d)`` -> decoder features ``(B, T, d/2)`` (``(B, S, d/2)`` for ``frames``:
        the last block then computes only those tokens' outputs, which is all that is needed)."""
        x = self.decoder_embed(mem)
        if mask is not None:
            token = self.mask_token_mlp(self.mask_token_input).to(x.dtype)  # (1, 1, d/2)
            x = torch.where(mask[..., None], token, x)
        x = x + resample_time(self.decoder_pos_embed, x.shape[1])
        n = len(self.decoder_blocks)
        for i, blk in enumerate(self.decoder_blocks):
            x = blk(x, query=frames if i == n - 1 else None)
        if n == 0 and frames is not None:
            x = x[:, frames]
        return self.decoder_norm(x)


class GlobalBranch(nn.Module):
    """``features (B, T, F)`` -> per-frame SMPL parameters (all frames, or the centre only)."""

    def __init__(self, cfg: GLoTConfig, mean: MeanParams, body: SMPLBody) -> None:
        super().__init__()
        self.proj = nn.Linear(cfg.feature_dim, cfg.d_model)
        self.trans = GlobalTransformer(cfg, mean)
        self.out_proj = nn.Linear(cfg.d_model // 2, cfg.feature_dim)
        self.regressor = IterativeRegressor(cfg.feature_dim, mean, body)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None, frames: slice | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """Run the branch.

        Args:
            features: ``(B, T, F)``.
            mask: ``(B, T)`` bool or None.
            frames: which frames to regress (default all).
        Returns:
            ``mem (B, T, d)``, ``(pose6d (B, S, 144), betas (B, S, 10), cam (B, S, 3))`` and the
            regressor input ``(B, S, F)``.
        """
        B = features.shape[0]
        mem = self.trans.encode(self.proj(features), mask)
        dec = self.trans.decode(mem, mask, frames)
        feat = self.out_proj(dec)  # (B, S, F)
        S = feat.shape[1]
        pose, shape, cam = self.regressor(feat.reshape(B * S, -1))
        return mem, (pose.reshape(B, S, -1), shape.reshape(B, S, -1), cam.reshape(B, S, -1)), feat
