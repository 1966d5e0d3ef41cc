"""GLoT's eval forward over the sliding windows of a clip, with per-frame work done once per frame.

The windows of a clip overlap (those of consecutive centre frames share all frames but one), so
the per-frame part of the forward -- ``proj`` and ``proj_short`` of the features and the frame
half of the first blocks' ``LayerNorm -> qkv`` (see :mod:`glot.model.fold`) -- is computed once
per distinct frame into a :class:`FrameTable` and gathered per window. The rest runs per window
with the folded eval weights: only the tokens whose outputs are read are computed (centre query of
the decoder and of the local encoder's last block), the regressors are single affine maps, and
both branches' bodies are posed in one batch (joints only when no mesh is asked for).

Outputs equal :meth:`GLoT.forward` on the gathered windows in eval mode (to float32 rounding;
the tests check 1e-5), which stays the reference implementation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .fold import NPARAM, BlockPlan, EvalPlan, FirstBlockFold, Positional, eval_plan
from .global_branch import key_padding
from .outputs import GLoTOutput, smpl_head
from .regressor import NPOSE, NSHAPE

__all__ = ["FrameTable", "prepare_frames", "forward_windows"]


@dataclass
class FrameTable:
    """Per-frame part of GLoT's eval forward for ``R`` frames (built by :func:`prepare_frames`
    for windows of ``seqlen`` frames, local half-width ``width`` and precision ``bf16``).

    glob ``(R, d)``: ``proj(features)``; glob_q ``(R, 3d + T)``: its centred value times the first
    encoder block's folded ``[W g; e~]``; glob_n2 ``(R,)``: its centred squared norm. loc, loc_q,
    loc_n2: the same for ``proj_short`` and the local encoder's first block.
    """

    seqlen: int
    width: int
    bf16: bool
    plan: EvalPlan
    pos: Positional
    glob: torch.Tensor
    glob_q: torch.Tensor
    glob_n2: torch.Tensor
    loc: torch.Tensor
    loc_q: torch.Tensor
    loc_n2: torch.Tensor

    def __len__(self) -> int:
        return self.glob.shape[0]


def prepare_frames(model, features: torch.Tensor, seqlen: int, width: int, bf16: bool = False) -> FrameTable:
    """The :class:`FrameTable` of ``features (R, F)`` (on the model's device), holding the
    weights it was made with (a table made before the weights changed is refused later)."""
    plan, pos = eval_plan(model, seqlen, width, bf16)
    d = pos.enc_first.pos.shape[1]
    z = plan.frame(features)  # (R, d + c)
    g, s = z[:, :d], z[:, d:]
    gc = g - g.mean(-1, keepdim=True)
    sc = s - s.mean(-1, keepdim=True)
    return FrameTable(seqlen=seqlen, width=width, bf16=bf16, plan=plan, pos=pos,
                      glob=g, glob_q=pos.enc_first.table(gc), glob_n2=(gc * gc).sum(-1),
                      loc=s, loc_q=pos.loc_first.table(sc), loc_n2=(sc * sc).sum(-1))


def _mlp(bp: BlockPlan, x: torch.Tensor) -> torch.Tensor:
    return x + bp.fc2(bp.fc1(bp.block.norm2(x), gelu=True))


def _attend(bp: BlockPlan, qkv: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
    """Multi-head attention of ``qkv (M, N, 3C)`` -> ``proj`` output ``(M, N, C)``."""
    M, N, C3 = qkv.shape
    q, k, v = qkv.view(M, N, 3, bp.heads, C3 // (3 * bp.heads)).permute(2, 0, 3, 1, 4)  # (M, h, N, C/h)
    att = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    return bp.proj(att.transpose(1, 2).reshape(M, N, C3 // 3))


def _block(bp: BlockPlan, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``Block.forward`` in eval: ``x (M, N, C) -> (M, N, C)``."""
    x = x + _attend(bp, bp.qkv(bp.block.norm1(x)), attn_mask)
    return _mlp(bp, x)


def _first_block(bp: BlockPlan, fb: FirstBlockFold, rows: torch.Tensor, rows_q: torch.Tensor, rows_n2: torch.Tensor,
                 idx: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
    """The first block on tokens ``rows[idx] + pos`` ``(M, N, C)``, its qkv from the table."""
    C = rows.shape[1]
    gq = rows_q[idx]  # (M, N, 3C + N)
    pe = gq[..., 3 * C:].diagonal(dim1=1, dim2=2)  # (M, N): p~ . e~ of each token's own position
    var = (rows_n2[idx] + 2.0 * pe + fb.pos_n2) / C
    qkv = torch.addcmul(fb.bias, gq[..., :3 * C] + fb.pos_qkv, torch.rsqrt(var + fb.eps)[..., None])
    x = torch.add(rows[idx], fb.pos) + _attend(bp, qkv, attn_mask)
    return _mlp(bp, x)


def _single_query(q: torch.Tensor, wk: torch.Tensor, wv_t: torch.Tensor, keys: torch.Tensor,
                  key_mask: torch.Tensor | None) -> torch.Tensor:
    """One query per row against ``keys (M, N, D)``: ``q (M, h*k)`` (scaled), ``wk (h, k, D)``,
    ``wv_t (h, D, k)`` -> attention output ``(M, h*k)`` (without the values' bias)."""
    M = q.shape[0]
    h, k = wk.shape[:2]
    qk = torch.bmm(q.view(M, h, k).transpose(0, 1), wk).transpose(0, 1)  # (M, h, D): W_k^T q
    scores = torch.bmm(qk, keys.transpose(1, 2))  # (M, h, N)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask, float("-inf"))
    mean = torch.bmm(torch.softmax(scores, dim=-1), keys)  # (M, h, D)
    return torch.bmm(mean.transpose(0, 1), wv_t).transpose(0, 1).reshape(M, h * k)


def _query_block(bp: BlockPlan, x: torch.Tensor, i: int) -> torch.Tensor:
    """``Block.forward`` in eval, for token ``i`` only: ``x (M, N, C) -> (M, C)``."""
    u = bp.block.norm1(x)
    y = x[:, i] + bp.proj(_single_query(bp.q(u[:, i]), bp.wk, bp.wv_t, u, None) + bp.bv)
    return _mlp(bp, y)


def _global(model, plan: EvalPlan, pos: Positional, table: FrameTable, idx: torch.Tensor, mask: torch.Tensor | None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Memory ``(M, T, d)`` and the centre frame's global estimate ``(M, 157)``."""
    tr = model.global_modeling.trans
    kp = key_padding(mask)
    x = _first_block(plan.enc[0], pos.enc_first, table.glob, table.glob_q, table.glob_n2, idx, kp)
    for bp in plan.enc[1:]:
        x = _block(bp, x, kp)
    mem = tr.norm(x)
    y = plan.dec_embed(mem)
    if mask is not None:
        y = torch.where(mask[..., None], plan.mask_token, y)
    y = y + pos.dec_pos
    mid = idx.shape[1] // 2
    for bp in plan.dec[:-1]:
        y = _block(bp, y)
    y = _query_block(plan.dec[-1], y, mid) if plan.dec else y[:, mid]
    return mem, plan.head(tr.decoder_norm(y))


def _local(model, plan: EvalPlan, pos: Positional, table: FrameTable, idx: torch.Tensor, mem: torch.Tensor,
           s_g: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The final (HSCR-corrected) estimate of the centre frame ``(M, 157)``."""
    w = table.width
    mid = idx.shape[1] // 2
    local = idx[:, mid - w:mid + w + 1]  # (M, 2w+1) the local frames
    x = _first_block(plan.loc[0], pos.loc_first, table.loc, table.loc_q, table.loc_n2, local, None)
    for bp in plan.loc[1:-1]:
        x = _block(bp, x)
    x = _query_block(plan.loc[-1], x, w) if len(plan.loc) > 1 else x[:, w]
    xq = model.local_trans_en.norm(x)  # (M, c): the local centre token queries the global memory
    keep = None if mask is None else key_padding(mask)[:, 0]  # (M, 1, T)
    o = _single_query(plan.cross_q(xq), plan.cross_k, plan.cross_v_t, mem, keep) + plan.cross_vb
    if mask is not None:
        empty = mask.all(dim=1)
        if bool(empty.any()):  # nothing visible: the attention contributes nothing
            o = o.masked_fill(empty[:, None], 0.0)
    return plan.cross_out(torch.cat([o, s_g], dim=1))


def forward_windows(
    model,
    table: FrameTable,
    idx: torch.Tensor,
    mask: torch.Tensor | None = None,
    J_regressor: torch.Tensor | None = None,
    need_verts: bool = True,
    need_global_verts: bool = True,
    check: bool = True,
) -> GLoTOutput:
    """GLoT (eval) on the windows ``idx (M, T)`` of rows of ``table``; ``mask (M, T)`` as
    :meth:`GLoT.forward`'s. Returns the same :class:`GLoTOutput` (final ``(M, ...)``, global
    ``(M, 1, ...)``). ``check``: verify the table's weights are the model's current ones (skip
    only for a table just made)."""
    plan, pos = table.plan, table.pos
    if check and eval_plan(model, table.seqlen, table.width, table.bf16)[0] is not plan:
        raise ValueError("frame table made with other weights (they changed since): make it again")
    M = idx.shape[0]
    mem, s_g = _global(model, plan, pos, table, idx, mask)
    s_f = _local(model, plan, pos, table, idx, mem, s_g, mask)

    split = lambda s: (s[:, :NPOSE], s[:, NPOSE:NPOSE + NSHAPE], s[:, NPOSE + NSHAPE:NPARAM])  # noqa: E731
    g_body, f_body = model.global_modeling.regressor.smpl, model.regressor.smpl
    if g_body is f_body and need_verts == need_global_verts:
        both = smpl_head(f_body, *split(torch.cat([s_g, s_f])), J_regressor=J_regressor, need_verts=need_verts)
        glob, final = both.split([M, M])
    else:
        glob = smpl_head(g_body, *split(s_g), J_regressor=J_regressor, need_verts=need_global_verts)
        final = smpl_head(f_body, *split(s_f), J_regressor=J_regressor, need_verts=need_verts)
    return GLoTOutput(final=final, global_=glob.reshape(M, 1), mask=mask)
