"""Transformer building blocks shared by the global and the local branch.

Pre-norm ViT blocks with LayerNorm ``eps=1e-6`` and exact (erf) GELU, as the official model.
Attention uses PyTorch's fused ``scaled_dot_product_attention`` (same maths, fewer passes).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DropPath", "Mlp", "Attention", "CrossAttention", "Block", "make_blocks", "resample_time"]

LN_EPS = 1e-6


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch per sample with probability ``p``."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    """``fc1 -> GELU -> dropout -> fc2 -> dropout``."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention. ``x: (B, N, C) -> (B, N, C)``."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, query: slice | None = None
                ) -> torch.Tensor:
        """``attn_mask``: optional bool ``(B, 1, 1|N, N)``, True = may attend. ``query``: only these
        tokens' outputs are computed (``(B, Nq, C)``); keys and values still come from all tokens."""
        B, N, C = x.shape
        h = self.num_heads
        p = self.attn_drop if self.training else 0.0
        if query is None:
            qkv = self.qkv(x).reshape(B, N, 3, h, C // h).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (B, h, N, C/h)
        else:  # same maths, but q only for the wanted tokens
            w, b = self.qkv.weight, self.qkv.bias
            xq = x[:, query]
            q = F.linear(xq, w[:C], None if b is None else b[:C]).reshape(B, xq.shape[1], h, C // h).transpose(1, 2)
            kv = F.linear(x, w[C:], None if b is None else b[C:]).reshape(B, N, 2, h, C // h).permute(2, 0, 3, 1, 4)
            k, v = kv[0], kv[1]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        out = out.transpose(1, 2).reshape(B, q.shape[2], C)
        return self.proj_drop(self.proj(out))


class CrossAttention(nn.Module):
    """Queries from ``x (B, Nq, C)`` attend to ``mem (B, Nk, C)``; no q/k/v bias (official)."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.kv_l = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.q_l = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, mem: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``attn_mask``: optional bool ``(B, 1, 1, Nk)``, True = key may be attended."""
        B, Nk, C = mem.shape
        Nq = x.shape[1]
        h = self.num_heads
        kv = self.kv_l(mem).reshape(B, Nk, 2, h, C // h).permute(2, 0, 3, 1, 4)
        q = self.q_l(x).reshape(B, Nq, h, C // h).transpose(1, 2)  # (B, h, Nq, C/h)
        p = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=attn_mask, dropout_p=p)
        out = out.transpose(1, 2).reshape(B, Nq, C)
        return self.proj_drop(self.proj(out))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads, qkv_bias=True, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, mlp_hidden, drop=drop)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, query: slice | None = None
                ) -> torch.Tensor:
        """``x (B, N, C)`` -> ``(B, N, C)``, or ``(B, Nq, C)`` for the ``query`` tokens only."""
        y = self.attn(self.norm1(x), attn_mask, query)
        x = (x if query is None else x[:, query]) + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))


def make_blocks(depth: int, dim: int, num_heads: int, mlp_hidden: int, drop: float, attn_drop: float,
                drop_path_rate: float, rate_depth: int | None = None) -> nn.ModuleList:
    """``depth`` blocks with stochastic depth rising linearly to ``drop_path_rate`` over
    ``rate_depth`` (default ``depth``) blocks, as the official schedule."""
    n = rate_depth or depth
    rates = torch.linspace(0, drop_path_rate, n).tolist() if n > 0 else []
    return nn.ModuleList(Block(dim, num_heads, mlp_hidden, drop, attn_drop, rates[i]) for i in range(depth))


def resample_time(pos: torch.Tensor, length: int) -> torch.Tensor:
    """Resample a positional embedding ``(1, L, C)`` to ``(1, length, C)`` linearly along time.

    Identity when ``length == L``.
    """
    if pos.shape[1] == length:
        return pos
    return F.interpolate(pos.transpose(1, 2), size=length, mode="linear", align_corners=True).transpose(1, 2)
