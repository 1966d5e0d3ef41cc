"""Linear layers of the eval fast path: ``y = x W^T + b`` (optionally ``gelu(...)``), run by the
backend that is fastest where the weights live.

On CPUs the weights are prepacked once for oneDNN (``torch.ops.mkldnn``, the kernels
``torch.compile``'s CPU freezing uses): measured on an AMD EPYC (Zen 4), 1.5-2.3x the float32 GEMM
throughput of ``F.linear``'s MKL ``sgemm`` at GLoT's shapes, exact float32 arithmetic all the same
(only the summation order differs), with the erf GELU fused. Elsewhere (CUDA, MPS, or a PyTorch
without oneDNN) it is ``F.linear``. ``bf16=True`` runs the product in bfloat16 (weights stored in
bf16, inputs cast on the way in) and returns float32: the optional fast mode for CPUs and GPUs with
bf16 matrix units (on other CPUs it runs, through ``F.linear`` in bf16, but slower than float32).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["Dense", "onednn_available"]


def onednn_available(dtype: torch.dtype = torch.float32) -> bool:
    """True when this PyTorch has oneDNN's prepacked linear (CPU) for ``dtype`` on this CPU (bf16
    needs AVX-512 or AVX-NE-CONVERT: elsewhere oneDNN refuses to pack bf16 weights)."""
    ok = bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise") \
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    if ok and dtype == torch.bfloat16:
        check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        ok = bool(check()) if check is not None else False
    return ok


class Dense:
    """``weight (out, in)``, ``bias (out,)`` or None, kept in ``dtype`` (the model's, or bfloat16
    for the bf16 mode) on ``device`` (default: the weight's); inputs are cast to ``dtype`` and
    outputs to ``out_dtype``.

    Backend per call, from timings of GLoT's shapes on a Zen 4 CPU: oneDNN for products of two or
    more rows with a weight over ``SMALL`` entries; for a single row (a GEMV) MKL, with the weight
    transposed to ``(in, out)`` when it widens (2x faster there); MKL for small weights (oneDNN's
    call costs ~20 us).
    """

    SMALL = 70_000

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype,
                 out_dtype: torch.dtype | None = None, device: torch.device | None = None) -> None:
        dev = weight.device if device is None else device
        self.weight = weight.detach().to(device=dev, dtype=dtype).contiguous()
        self.bias = None if bias is None else bias.detach().to(device=dev, dtype=dtype).contiguous()
        self.dtype = dtype
        self.out_dtype = dtype if out_dtype is None else out_dtype
        n_out, n_in = self.weight.shape
        self.packed = None
        if self.weight.device.type == "cpu" and dtype in (torch.float32, torch.bfloat16) and onednn_available(dtype) \
                and (dtype == torch.bfloat16 or n_out * n_in > self.SMALL):
            self.packed = torch.ops.mkldnn._reorder_linear_weight(self.weight)
        self._wide_t: torch.Tensor | None = None  # (in, out) copy for single rows, made on first use

    def __call__(self, x: torch.Tensor, gelu: bool = False) -> torch.Tensor:
        """``x (..., in)`` -> ``(..., out)``, ``gelu`` (erf) applied when asked."""
        if x.dtype != self.dtype:
            x = x.to(self.dtype)
        n_out, n_in = self.weight.shape
        if self.packed is not None and (x.numel() != n_in or self.dtype == torch.bfloat16):
            y = _LINEAR(x, self.packed, self.bias, "gelu" if gelu else "none", [], "none" if gelu else "")
        else:
            if x.numel() == n_in and n_out >= n_in and self.dtype == torch.float32 and x.device.type == "cpu":
                if self._wide_t is None:
                    self._wide_t = self.weight.t().contiguous()
                x2 = x.reshape(1, n_in)
                y = (torch.mm(x2, self._wide_t) if self.bias is None else torch.addmm(self.bias, x2, self._wide_t)
                     ).view(*x.shape[:-1], n_out)
            else:
                y = F.linear(x, self.weight, self.bias)
            if gelu:
                y = F.gelu(y)
        return y if y.dtype == self.out_dtype else y.to(self.out_dtype)


_LINEAR = torch.ops.mkldnn._linear_pointwise.default if onednn_available() else None
