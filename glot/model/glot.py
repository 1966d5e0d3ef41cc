"""GLoT: Global-to-Local modeling (CVPR 2023), numerically equal to the official model.

Data flow for a window of ``T`` per-frame features ``(B, T, F)``:

1. global branch: ``proj -> encoder (visible frames) -> decoder (mask token at hidden frames)
   -> out_proj -> SPIN regressor`` gives SMPL parameters per frame;
2. local branch: the ``2w + 1`` frames around ``T // 2`` -> ``proj_short -> local encoder``; its 3
   centre tokens query ``proj_mem(global memory)`` by cross-attention;
3. HSCR corrects the global estimate of the centre frame(s) with those tokens.
"""
from __future__ import annotations

import torch
from torch import nn

from ..body.files import MeanParams
from ..body.smpl import SMPLBody
from ..config import GLoTConfig
from .global_branch import GlobalBranch, key_padding
from .layers import LN_EPS, CrossAttention, make_blocks
from .masking import mask_from_noise
from .outputs import GLoTOutput, smpl_head
from .regressor import HSCR

__all__ = ["GLoT", "LocalEncoder"]


class LocalEncoder(nn.Module):
    """Transformer over the ``2w + 1`` local frames: ``(B, 2w+1, C) -> (B, 2w+1, C)``."""

    def __init__(self, cfg: GLoTConfig) -> None:
        super().__init__()
        c = cfg.short_d_model
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.local_len, c))
        self.blocks = make_blocks(cfg.short_n_layers, c, cfg.short_num_head, c * 4, cfg.short_dropout,
                                  cfg.short_atten_drop, cfg.short_drop_path_r)
        self.norm = nn.LayerNorm(c, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, full = x.shape[1], self.pos_embed.shape[1]
        start = (full - n) // 2  # a smaller half-width uses the centre slice of the embedding
        x = x + self.pos_embed[:, start:start + n]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class GLoT(nn.Module):
    """The GLoT model. Submodule names equal the official ones, so official state dicts load
    strictly (``load_state_dict(sd, strict=True)``).

    Args:
        cfg: architecture.
        body: the SMPL layer (shared by both branches).
        mean: SMPL mean parameters (initial estimate and mask-token input).
    """

    def __init__(self, cfg: GLoTConfig, body: SMPLBody, mean: MeanParams) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.short_d_model
        self.proj_short = nn.Linear(cfg.feature_dim, c)
        self.proj_mem = nn.Linear(cfg.d_model, c)
        self.local_trans_de = CrossAttention(c, num_heads=cfg.cross_num_head, qkv_bias=False)
        self.local_trans_en = LocalEncoder(cfg)
        self.regressor = HSCR(c, body, drop=cfg.drop_reg_short, slice_mode=cfg.ktd_slice)
        self.global_modeling = GlobalBranch(cfg, mean, body)
        for p in body.parameters():  # smplx's default-pose parameters: never used, never trained
            p.requires_grad_(False)

    @property
    def body(self) -> SMPLBody:
        """The body of the final branch (the global branch's is the same object unless a
        checkpoint carried two different ones)."""
        return self.regressor.smpl

    @property
    def device(self) -> torch.device:
        return self.proj_short.weight.device

    def forward(
        self,
        features: torch.Tensor,
        is_train: bool = False,
        J_regressor: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        mask_noise: torch.Tensor | None = None,
        local_width: int | None = None,
        need_verts: bool = True,
        need_global_verts: bool = True,
        return_debug: bool = False,
    ) -> GLoTOutput:
        """Run GLoT on windows of per-frame features.

        Args:
            features: ``(B, T, F)``. ``T`` other than ``cfg.seqlen`` resamples both positional
                embeddings linearly along time (off-distribution for official weights).
            is_train: the official training forward: random masking of the global encoder's
                input (``cfg.mask_ratio``), global outputs for all frames, final outputs for the 3
                centre frames. Independent of ``nn.Module.train()`` (dropout).
            J_regressor: ``(17, V)`` H36M regressor: eval joints become the 14 LSP joints.
            mask: ``(B, T)`` bool, frames hidden from the global encoder at inference (True =
                hidden), applied exactly as training masking. Off-distribution only in that the
                released weights were evaluated unmasked.
            mask_noise: ``(B, T)`` noise for training masking (replaces ``torch.rand``).
            local_width: local half-width ``w' <= cfg.stride_short`` (centre slice of the local
                positional embedding; off-distribution for official weights).
            need_verts / need_global_verts: compute the final / global mesh (joints always).
            return_debug: also return intermediate tensors.
        Returns:
            :class:`GLoTOutput`.
        """
        cfg = self.cfg
        B, T, _ = features.shape
        w = cfg.stride_short if local_width is None else int(local_width)
        if not 1 <= w <= cfg.stride_short:
            raise ValueError(f"local width {w} must be in 1..{cfg.stride_short}")
        if T < 2 * w + 1:
            raise ValueError(f"window of {T} frames is shorter than the local window 2*{w}+1")
        mid = T // 2
        if mid - w < 0 or mid + w + 1 > T:
            raise ValueError(f"local window 2*{w}+1 does not fit around frame {mid} of {T}")

        if is_train:
            if mask is None:
                noise = mask_noise if mask_noise is not None else torch.rand(B, T, device=features.device)
                mask = mask_from_noise(noise.to(features.device), cfg.mask_ratio)
            J_regressor = None  # the official training forward always returns the 49 joints
        elif mask is not None and not mask.any():
            mask = None
        if mask is not None:
            mask = mask.to(device=features.device, dtype=torch.bool).expand(B, T)

        # ---- global branch
        frames = slice(None) if is_train else slice(mid, mid + 1)
        mem, (g_pose, g_shape, g_cam), g_feat = self.global_modeling(features, mask, frames)
        S = g_pose.shape[1]
        if is_train:
            centre = slice(mid - 1, mid + 2)
            init = (g_pose[:, centre], g_shape[:, centre], g_cam[:, centre])
        else:
            init = (g_pose, g_shape, g_cam)

        # ---- local branch
        x_short = self.local_trans_en(self.proj_short(features[:, mid - w:mid + w + 1]))
        queries = x_short[:, w - 1:w + 2]
        mem_short = self.proj_mem(mem)
        out_short = self.local_trans_de(queries, mem_short, key_padding(mask))
        if mask is not None:
            empty = mask.all(dim=1)
            if bool(empty.any()):  # nothing visible: attention over an empty set contributes 0
                nothing = self.local_trans_de.proj(torch.zeros_like(queries))
                out_short = torch.where(empty[:, None, None], nothing, out_short)
        feat = out_short if is_train else out_short[:, 1:2]

        f_pose, f_shape, f_cam = self.regressor(feat, *init)
        Sf = f_pose.shape[1]

        # ---- SMPL for both branches (one batched call when they share the body and options)
        flat = [t.reshape(B * S, -1) for t in (g_pose, g_shape, g_cam)], [t.reshape(B * Sf, -1) for t in (f_pose, f_shape, f_cam)]
        g_body, f_body = self.global_modeling.regressor.smpl, self.regressor.smpl
        if g_body is f_body and need_verts == need_global_verts:
            both = smpl_head(f_body, *(torch.cat([a, b]) for a, b in zip(*flat)), J_regressor=J_regressor,
                             need_verts=need_verts)
            glob, final = both.split([B * S, B * Sf])
        else:
            glob = smpl_head(g_body, *flat[0], J_regressor=J_regressor, need_verts=need_global_verts)
            final = smpl_head(f_body, *flat[1], J_regressor=J_regressor, need_verts=need_verts)
        glob = glob.reshape(B, S)
        final = final.reshape(B, Sf) if is_train else final.reshape(B)

        debug = None
        if return_debug:
            debug = {
                "global_regressor_input": g_feat,
                "global_mem": mem,
                "global_next_init_pose6d": init[0],
                "global_next_init_shape": init[1],
                "global_next_init_cam": init[2],
                "local_encoder_out": x_short,
                "local_cross_attention_out": out_short,
                "hscr_input_feature": feat,
            }
        return GLoTOutput(final=final, global_=glob, mask=mask, debug=debug)
