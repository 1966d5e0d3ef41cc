"""Eval-time weights of the windowed forward (:mod:`glot.model.clip`): prepacked, and folded
where GLoT's maths allows.

In eval mode large parts of GLoT are affine maps or attention read for a single query, so
products of its weight matrices can be formed once (in float64) and shared by every window:

* the first encoder blocks' ``LayerNorm -> qkv`` on ``x = p_t + e_k`` (frame projection plus
  positional embedding) splits into a per-frame GEMM ``p~_t (W g)^T``, a per-position term
  ``e~_k (W g)^T`` and a per-token scale ``1 / sigma_tk`` whose variance combines in closed form:
  ``|p~ + e~|^2 = |p~|^2 + 2 p~.e~ + |e~|^2`` (``~``: mean removed, ``g``: the LayerNorm gain);
* a block whose output is read for one token only (the decoder's last block, the local encoder's
  last block, the cross-attention) needs one query: ``q.k_i = (W_k^T q).u_i`` and
  ``sum_i a_i v_i = W_v sum_i a_i u_i + b_v``, so no other token's key or value is formed (for the
  cross-attention ``W_k`` and ``W_v`` absorb ``proj_mem``);
* SPIN's iterative regressor after ``out_proj`` (3 linear feedback steps, no nonlinearity) is one
  affine map ``d/2 -> 157``, and HSCR after the cross-attention's output projection (two linear
  heads and the linear kinematic-tree decoder) one affine map ``c + 157 -> 157``.

The affine maps are read off the modules themselves, evaluated in float64 on a basis (no second
copy of their maths), and checked to be affine. Every plan is rebuilt when a weight changes
(storage or version counter), so training between evaluations stays correct.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..body.smpl import DerivedCache
from .dense import Dense
from .layers import Block, resample_time
from .regressor import NCAM, NPOSE, NSHAPE

__all__ = ["BlockPlan", "FirstBlockFold", "Positional", "EvalPlan", "eval_plan", "affine_probe", "NPARAM"]

NPARAM = NPOSE + NSHAPE + NCAM  # 157: [pose6d, betas, cam]
_F64 = torch.float64


def _f64(t: torch.Tensor) -> torch.Tensor:
    """A float64 copy where float64 exists (the CPU for Apple's MPS, which has none)."""
    return t.detach().to(device="cpu" if t.device.type == "mps" else t.device, dtype=_F64)


@dataclass
class BlockPlan:
    """A transformer block's linears (``qkv`` None for a first block, whose qkv comes from the
    frame table) and, for a block read at one token, its single-query form: ``q`` (scaled),
    ``wk (h, C/h, C)`` and ``wv_t (h, C, C/h)``, ``bv (C,)``."""

    block: Block
    heads: int
    qkv: Dense | None
    proj: Dense
    fc1: Dense
    fc2: Dense
    q: Dense | None = None
    wk: torch.Tensor | None = None
    wv_t: torch.Tensor | None = None
    bv: torch.Tensor | None = None


@dataclass
class FirstBlockFold:
    """``LayerNorm -> qkv`` of a first block on ``p_t + e_k`` for ``N`` positions.

    table: ``[W g; e~]`` ``(3C + N, C)``, applied to a centred frame projection ``p~_t``: its qkv
    part and its dot products with the centred positional embeddings; pos ``(N, C)``: the
    positional embedding; pos_qkv ``(N, 3C)``: ``e~ (W g)^T``; pos_n2 ``(N,)``: ``|e~|^2``;
    bias ``(3C,)``: ``W b + c``.
    """

    table: Dense
    pos: torch.Tensor
    pos_qkv: torch.Tensor
    pos_n2: torch.Tensor
    bias: torch.Tensor
    eps: float


@dataclass
class Positional:
    """The parts of a plan that depend on the window length ``T`` and the local half-width."""

    enc_first: FirstBlockFold
    loc_first: FirstBlockFold
    dec_pos: torch.Tensor  # (T, d/2)


@dataclass
class EvalPlan:
    """Everything the windowed forward multiplies by, for one model state and precision.

    frame: ``proj`` and ``proj_short`` stacked ``(d + c, F)`` (the per-frame GEMM); head: decoder
    output -> global estimate ``(157, d/2)``; cross_q/cross_k ``(h, c/h, d)``/cross_v_t
    ``(h, d, c/h)``/cross_vb: the cross-attention's single query on the global memory; cross_out:
    ``[attention output, global estimate] -> final estimate`` ``(157, c + 157)``. The two heads
    stay in the model's precision in the bf16 mode (they are small and set the outputs directly).
    """

    dtype: torch.dtype
    frame: Dense
    enc: list[BlockPlan]
    dec: list[BlockPlan]
    loc: list[BlockPlan]
    dec_embed: Dense
    head: Dense
    mask_token: torch.Tensor
    cross_heads: int
    cross_q: Dense
    cross_k: torch.Tensor
    cross_v_t: torch.Tensor
    cross_vb: torch.Tensor
    cross_out: Dense
    positional: dict[tuple[int, int], Positional] = field(default_factory=dict)


def _weights_key(model: nn.Module, cache: DerivedCache) -> tuple:
    """Identity, storage and version of every weight outside the SMPL layers: changes with in-place
    updates (optimiser steps, ``load_state_dict``), ``.to()`` and tensors re-assigned to the
    model's modules. (The modules are listed once: replacing a whole submodule is not noticed.)"""
    slots = cache.get("slots")
    if slots is None:
        slots = cache["slots"] = [(store, name) for mname, mod in model.named_modules()
                                  if "smpl" not in mname.split(".")
                                  for store in (mod._parameters, mod._buffers) for name in store]
    out = []
    for store, name in slots:
        t = store.get(name)
        if t is None:
            out.append(None)
            continue
        try:
            out.append((id(t), t.data_ptr(), t._version))
        except RuntimeError:  # inference tensor: no version counter, immutable outside inference mode
            out.append((id(t), t.data_ptr(), -1))
    return tuple(out)


def eval_plan(model: nn.Module, seqlen: int, width: int, bf16: bool = False) -> tuple[EvalPlan, Positional]:
    """The cached :class:`EvalPlan` of a :class:`~glot.model.GLoT` (``bf16``: GEMMs in bfloat16)
    and its :class:`Positional` part for windows of ``seqlen`` frames and local half-width ``width``."""
    cache = DerivedCache.of(model)
    with cache.setdefault("lock", threading.Lock()):  # one build when sessions start at once
        key = _weights_key(model, cache)
        plans = cache.get("plans")
        if plans is None or cache.get("key") != key:
            plans = cache["plans"] = {}
            cache["key"] = key
        with torch.inference_mode(False), torch.no_grad():  # plain tensors: usable in and out of inference mode
            plan = plans.get(bf16)
            if plan is None:
                plan = plans[bf16] = _build(model, bf16)
            pos = plan.positional.get((seqlen, width))
            if pos is None:
                pos = plan.positional[(seqlen, width)] = _positional(model, plan, seqlen, width)
    return plan, pos


def affine_probe(fn: Callable[[torch.Tensor], torch.Tensor], d_in: int, device: torch.device
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn (n, d_in) -> (n, d_out)`` as ``x @ W + b`` (float64), read off ``fn`` at the origin
    and the unit vectors. Raises if ``fn`` is not affine (checked at random points)."""
    basis = torch.cat([torch.zeros(1, d_in, dtype=_F64, device=device), torch.eye(d_in, dtype=_F64, device=device)])
    y = fn(basis)
    b, W = y[0], y[1:] - y[0]
    x = torch.randn(3, d_in, dtype=_F64, generator=torch.Generator().manual_seed(0)).to(device)
    want, got = fn(x), x @ W + b
    if not torch.allclose(got, want, rtol=1e-9, atol=1e-9 * float(want.abs().max().clamp_min(1.0))):
        raise RuntimeError("a head expected to be affine in eval mode is not (was a nonlinearity added?)")
    return W, b


def _f64_copy(module: nn.Module) -> nn.Module:
    """A float64 copy of a module to evaluate on a basis, sharing only its SMPL layers (not run by
    the heads in eval mode). The model itself is never touched: sessions share it, and another
    thread may be running these very modules while a plan is built."""
    memo: dict[int, object] = {id(m): m for name, m in module.named_modules() if "smpl" in name.split(".")}
    for name, m in module.named_modules():
        if "smpl" in name.split("."):
            continue
        for t in m._parameters.values():
            if t is not None and t.is_floating_point():
                memo[id(t)] = nn.Parameter(_f64(t), requires_grad=False)
        for t in m._buffers.values():
            if t is not None and t.is_floating_point():
                memo[id(t)] = _f64(t)
    return copy.deepcopy(module, memo)


def _block(blk: Block, dt: torch.dtype, gemm: torch.dtype, first: bool = False, query: bool = False) -> BlockPlan:
    att, mlp = blk.attn, blk.mlp
    dev = att.proj.weight.device
    dense = lambda lin: Dense(lin.weight, lin.bias, gemm, dt)  # noqa: E731
    bp = BlockPlan(block=blk, heads=att.num_heads, qkv=None if first or query else dense(att.qkv),
                   proj=dense(att.proj), fc1=dense(mlp.fc1), fc2=dense(mlp.fc2))
    if query:
        W = _f64(att.qkv.weight)
        C = W.shape[1]
        h, dk = att.num_heads, C // att.num_heads
        bias = _f64(att.qkv.bias) if att.qkv.bias is not None else W.new_zeros(3 * C)
        scale = dk ** -0.5  # scaled_dot_product_attention's default
        bp.q = Dense(scale * W[:C], scale * bias[:C], gemm, dt, device=dev)
        bp.wk = W[C:2 * C].view(h, dk, C).to(dev, dt).contiguous()  # the keys' bias shifts all scores equally
        bp.wv_t = W[2 * C:].view(h, dk, C).transpose(1, 2).to(dev, dt).contiguous()
        bp.bv = bias[2 * C:].to(dev, dt)
    return bp


def _first_block(blk: Block, pos: torch.Tensor, dt: torch.dtype, gemm: torch.dtype) -> FirstBlockFold:
    ln, qkv = blk.norm1, blk.attn.qkv
    W = _f64(qkv.weight)
    c = _f64(qkv.bias) if qkv.bias is not None else W.new_zeros(W.shape[0])
    g = _f64(ln.weight) if ln.weight is not None else W.new_ones(W.shape[1])
    b = _f64(ln.bias) if ln.bias is not None else W.new_zeros(W.shape[1])
    dev = pos.device
    Wg = W * g
    et = _f64(pos) - _f64(pos).mean(-1, keepdim=True)
    return FirstBlockFold(table=Dense(torch.cat([Wg, et]), None, gemm, dt, device=dev), pos=pos.to(dt).contiguous(),
                          pos_qkv=(et @ Wg.t()).to(dev, dt), pos_n2=(et * et).sum(-1).to(dev, dt),
                          bias=(W @ b + c).to(dev, dt),
                          eps=ln.eps)


def _positional(model: nn.Module, plan: EvalPlan, seqlen: int, width: int) -> Positional:
    tr = model.global_modeling.trans
    loc = model.local_trans_en
    full, n = loc.pos_embed.shape[1], 2 * width + 1
    start = (full - n) // 2  # a smaller half-width uses the centre slice of the embedding
    gemm, dt = plan.frame.dtype, plan.dtype
    return Positional(enc_first=_first_block(tr.blocks[0], resample_time(tr.pos_embed, seqlen)[0], dt, gemm),
                      loc_first=_first_block(loc.blocks[0], loc.pos_embed[0, start:start + n], dt, gemm),
                      dec_pos=resample_time(tr.decoder_pos_embed, seqlen)[0].to(dt).contiguous())


def _build(model: nn.Module, bf16: bool) -> EvalPlan:
    gm, tr = model.global_modeling, model.global_modeling.trans
    dt, dev = model.proj_short.weight.dtype, model.proj_short.weight.device
    gemm = torch.bfloat16 if bf16 else dt
    nd, nl = len(tr.decoder_blocks), len(model.local_trans_en.blocks)
    enc = [_block(b, dt, gemm, first=i == 0) for i, b in enumerate(tr.blocks)]
    dec = [_block(b, dt, gemm, query=i == nd - 1) for i, b in enumerate(tr.decoder_blocks)]
    loc = [_block(b, dt, gemm, first=i == 0, query=i == nl - 1 and i > 0)
           for i, b in enumerate(model.local_trans_en.blocks)]

    # global head: decoder_norm output -> out_proj -> SPIN regressor
    out_proj, regressor = _f64_copy(gm.out_proj), _f64_copy(gm.regressor)

    def global_head(y: torch.Tensor) -> torch.Tensor:
        return torch.cat(regressor(out_proj(y)), 1)

    fold_dev = torch.device("cpu") if dev.type == "mps" else dev
    head_W, head_b = affine_probe(global_head, tr.decoder_norm.normalized_shape[0], fold_dev)

    # local head: cross-attention output (heads concatenated, before its proj) and the global
    # estimate -> proj -> HSCR
    ca = model.local_trans_de
    if ca.q_l.bias is not None or ca.kv_l.bias is not None:
        raise NotImplementedError("the folded cross-attention assumes no q/kv bias (official: qkv_bias=False)")
    c = ca.q_l.weight.shape[0]
    h = ca.num_heads
    dk = c // h
    proj, hscr = _f64_copy(ca.proj), _f64_copy(model.regressor)

    def local_head(z: torch.Tensor) -> torch.Tensor:
        x = proj(z[:, :c])[:, None]
        s = z[:, None, c:]
        out = hscr(x, s[..., :NPOSE], s[..., NPOSE:NPOSE + NSHAPE], s[..., NPOSE + NSHAPE:])
        return torch.cat(out, dim=-1)[:, 0]

    H, h0 = affine_probe(local_head, c + NPARAM, fold_dev)
    Wpm, bpm = _f64(model.proj_mem.weight), _f64(model.proj_mem.bias)  # (c, d)
    kv = _f64(ca.kv_l.weight)
    cross_k = torch.einsum("hkc,cd->hkd", kv[:c].view(h, dk, c), Wpm)  # memory -> keys, per head
    cross_v = torch.einsum("hkc,cd->hkd", kv[c:].view(h, dk, c), Wpm)  # memory -> values, per head
    token = tr.mask_token_mlp(tr.mask_token_input)[0, 0]
    return EvalPlan(
        dtype=dt, frame=Dense(torch.cat([gm.proj.weight, model.proj_short.weight]),
                              torch.cat([gm.proj.bias, model.proj_short.bias]), gemm, dt),
        enc=enc, dec=dec, loc=loc, dec_embed=Dense(tr.decoder_embed.weight, tr.decoder_embed.bias, gemm, dt),
        head=Dense(head_W.t(), head_b, dt, device=dev), mask_token=token.to(dt),
        cross_heads=h, cross_q=Dense(dk ** -0.5 * _f64(ca.q_l.weight), None, gemm, dt, device=dev),
        cross_k=cross_k.to(dev, dt).contiguous(), cross_v_t=cross_v.transpose(1, 2).to(dev, dt).contiguous(),
        cross_vb=(kv[c:] @ bpm).to(dev, dt), cross_out=Dense(H.t(), h0, dt, device=dev),
    )
