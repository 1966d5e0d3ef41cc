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
from .clip import FrameTable, forward_windows, prepare_frames
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

    def _local_width(self, T: int, local_width: int | None) -> int:
        cfg = self.cfg
        w = cfg.stride_short if local_width is None else int(local_width)
        if not 1 <= w <= cfg.stride_short:
            raise ValueError(f"local width {w} must be in 1..{cfg.stride_short}")
        if T < 2 * w + 1:
            raise ValueError(f"window of {T} frames is shorter than the local window 2*{w}+1")
        mid = T // 2
        if mid - w < 0 or mid + w + 1 > T:
            raise ValueError(f"local window 2*{w}+1 does not fit around frame {mid} of {T}")
        return w

    def prepare_frames(self, features: torch.Tensor, seqlen: int | None = None, local_width: int | None = None,
                       bf16: bool = False) -> FrameTable:
        """The per-frame part of the eval forward for ``features (R, F)``, to pass to
        :meth:`forward_clip` as ``features`` (e.g. kept across calls by a streaming caller).

        ``seqlen`` (default ``cfg.seqlen``), ``local_width`` and ``bf16`` must be those of the
        windows it will be used with."""
        T = self.cfg.seqlen if seqlen is None else int(seqlen)
        w = self._local_width(T, local_width)
        self._check_eval()
        with torch.inference_mode():
            return prepare_frames(self, features.to(self.device), T, w, bool(bf16))

    def _check_eval(self) -> None:
        if self.training:
            raise ValueError("forward_clip is the inference path: call model.eval() first (train with forward)")

    def forward_clip(
        self,
        features: torch.Tensor | FrameTable,
        windows: torch.Tensor,
        rows: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        J_regressor: torch.Tensor | None = None,
        local_width: int | None = None,
        need_verts: bool = True,
        need_global_verts: bool = True,
        bf16: bool = False,
    ) -> GLoTOutput:
        """GLoT in eval mode on windows given as frame indices into a clip: equal to
        ``forward(features[rows[:, None], windows], mask=mask, ...)``, with the per-frame work
        (``proj``, ``proj_short``, half of the first blocks' ``LayerNorm -> qkv``) done once per
        distinct frame instead of once per window position, and only the outputs that are read
        computed. Runs under ``torch.inference_mode`` (no gradients; train with :meth:`forward`).

        Args:
            features: ``(L, F)`` per-frame features of a clip, ``(P, L, F)`` of several people's
                clips (then ``rows`` says whose each window is), or a :class:`FrameTable` from
                :meth:`prepare_frames` (``windows`` then index its rows). Any device; only the
                frames the windows use are moved to the model's.
            windows: ``(M, T)`` integer frame indices of each window (e.g. edge-clamped ones from
                :func:`glot.video.windows.window_indices`).
            rows: ``(M,)`` person index of each window (with ``(P, L, F)`` features only).
            mask, J_regressor, local_width, need_verts, need_global_verts: as :meth:`forward`.
            bf16: run the matrix products in bfloat16 (float32 accumulation; the rest, the heads
                and the body in float32): faster on CPUs and GPUs with bf16 matrix units, and
                a fraction of a millimetre from float32 on average (``docs/speed.md``).
        Returns:
            :class:`GLoTOutput`: final ``(M, ...)``, global ``(M, 1, ...)``.
        """
        self._check_eval()
        windows = torch.as_tensor(windows)
        if windows.ndim != 2 or windows.dtype in (torch.bool,) or windows.is_floating_point():
            raise ValueError(f"windows must be an (M, T) integer tensor, not {tuple(windows.shape)} {windows.dtype}")
        T = windows.shape[1]
        w = self._local_width(T, local_width)
        dev = self.device
        with torch.inference_mode():
            if isinstance(features, FrameTable):
                if rows is not None:
                    raise ValueError("rows index people of (P, L, F) features, not rows of a FrameTable")
                if (features.seqlen, features.width, features.bf16) != (T, w, bool(bf16)):
                    raise ValueError(f"frame table made for windows of {features.seqlen} frames, local width "
                                     f"{features.width}, bf16={features.bf16}; used with {T}, {w}, bf16={bool(bf16)}")
                table, idx, fresh = features, windows.to(dev), False
            else:
                (table, idx), fresh = self._clip_table(features, windows, rows, T, w, bool(bf16)), True
            if mask is not None:
                mask = torch.as_tensor(mask).to(device=dev, dtype=torch.bool).expand(idx.shape)
                if not mask.any():
                    mask = None
            return forward_windows(self, table, idx, mask, J_regressor, need_verts, need_global_verts,
                                   check=not fresh)

    def _clip_table(self, features: torch.Tensor, windows: torch.Tensor, rows: torch.Tensor | None, T: int, w: int,
                    bf16: bool) -> tuple[FrameTable, torch.Tensor]:
        """The frame table of the distinct frames the windows use, and the windows as its rows."""
        if features.ndim == 3:
            if rows is None:
                raise ValueError("(P, L, F) features need rows: the person index of each window")
            rows = torch.as_tensor(rows, device=windows.device)
            keys = rows.reshape(-1, 1) * features.shape[1] + windows
        elif features.ndim == 2:
            if rows is not None:
                raise ValueError("rows are only for (P, L, F) features")
            keys = windows
        else:
            raise ValueError(f"features must be (L, F) or (P, L, F), not {tuple(features.shape)}")
        flat = features.reshape(-1, features.shape[-1])
        if keys.numel() and (int(keys.min()) < 0 or int(keys.max()) >= flat.shape[0]):
            raise IndexError(f"window frame indices outside the clip's {features.shape[-2]} frames")
        if keys.shape[0] == 1:  # one window: nothing to share (repeated edge frames cost little)
            uniq, inv = keys[0], torch.arange(T, device=keys.device)[None]
        else:
            uniq, inv = torch.unique(keys, return_inverse=True)
        feats = flat[uniq.to(flat.device)]
        return prepare_frames(self, feats.to(self.device), T, w, bf16), inv.to(self.device)

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
        w = self._local_width(T, local_width)
        mid = T // 2

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
