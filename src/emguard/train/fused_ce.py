"""Cross-entropy through a frozen LM head without materialising the logits.

``linear_cross_entropy(h, weight, targets)`` returns the per-row CE of ``h @ weight.T``
at ``targets``, the same numbers as ``logsumexp(z) - z[target]`` on the full logits,
but computed in row chunks: each chunk's logits are made, reduced and turned into
their gradient ``(softmax(z) - onehot) @ weight`` while still in cache, then dropped.
Backward only scales the stored ``[N, d]`` gradient by the upstream per-row weights,
so it works for any weighting of the rows (a sum, a mean, a masked sum).

What this saves against the plain path (an ``[N, V]`` logits tensor, its logsumexp,
the gather's zero-filled ``[N, V]`` gradient, the add of the two): three to four full
passes over ``N x V`` floats and their memory. Measured on the 2-core CPU, head and
loss alone (N 1228, V 49152, d 576, forward + backward, 3 repetitions): 1.3-1.6 s
against 2.4-3.3 s; the whole training step's gain is ``ratios.fused_ce_gain`` in
``benchmarks/results/train.json``. The same idea as Liger-Kernel's fused linear
cross-entropy (a Triton kernel, GPU only); here in plain torch so it runs anywhere.

The head must be frozen (no weight gradient is produced) and have no bias: the
training wrapper falls back to full logits otherwise, and whenever a loss term reads
the trained model's logits (``Defense.needs_logits``: the cached KL).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

# Elements of one chunk's logits (fp32: 128 MiB). Measured: chunks of >= 512 rows of a 49k vocabulary
# run at the same speed; smaller ones are slower, larger ones only cost memory.
CHUNK_ELEMENTS = 2**25


def through_head(grad_logits: Tensor, weight: Tensor, dtype: torch.dtype, amp=nullcontext) -> Tensor:
    """``grad_logits @ weight`` (the gradient at the head's input), in ``dtype``; inside ``amp()`` (or the
    autocast in force) the matmul runs in the precision nn.Linear's backward would use."""
    with amp():
        return (grad_logits.to(weight.dtype) @ weight).to(dtype)


class RowGradientFunction(torch.autograd.Function):
    """A per-row function whose forward formed d(row value)/d(first input) and saved it (``[N, d]``, or
    None when no gradient was needed) with ``ctx.save_for_backward``: backward scales each row by its
    upstream gradient; the other inputs get none."""

    @staticmethod
    def backward(ctx, grad_rows: Tensor):  # type: ignore[override]
        (grad_h,) = ctx.saved_tensors
        rest = (None,) * (len(ctx.needs_input_grad) - 1)
        return (None if grad_h is None else grad_h * grad_rows[:, None].to(grad_h.dtype), *rest)


class _LinearCrossEntropy(RowGradientFunction):
    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, targets: Tensor, chunk_rows: int) -> Tensor:  # type: ignore[override]
        n = h.shape[0]
        acc = torch.promote_types(h.dtype, torch.float32)  # fp32, or fp64 if the input is
        losses = torch.empty(n, dtype=acc, device=h.device)
        grad_h = torch.empty_like(h) if ctx.needs_input_grad[0] else None
        w_t = weight.t()
        for s in range(0, n, chunk_rows):
            e = min(n, s + chunk_rows)
            z = (h[s:e] @ w_t).to(acc)  # [c, V]; under autocast the matmul runs in its dtype, as nn.Linear would
            tgt = targets[s:e]
            lse = torch.logsumexp(z, dim=-1)
            losses[s:e] = lse - z.gather(1, tgt[:, None]).squeeze(1)
            if grad_h is not None:
                z.sub_(lse[:, None]).exp_()  # softmax, in place
                z[torch.arange(e - s, device=z.device), tgt] -= 1.0
                grad_h[s:e] = through_head(z, weight, h.dtype)
        ctx.save_for_backward(grad_h)
        return losses


def linear_cross_entropy(h: Tensor, weight: Tensor, targets: Tensor, chunk_elements: int = CHUNK_ELEMENTS) -> Tensor:
    """Per-row CE of ``h @ weight.T`` at ``targets`` (``[N]``, float32 or wider), with grad to ``h`` only.

    h: Float[Tensor, "n d"]; weight: Float[Tensor, "vocab d"] (frozen); targets: Long[Tensor, "n"].
    """
    if weight.requires_grad:
        raise ValueError("linear_cross_entropy: the head's weight requires grad; this fused path computes "
                         "no weight gradient (use the full logits)")
    if h.shape[0] == 0:
        return h.new_zeros(0, dtype=torch.promote_types(h.dtype, torch.float32)) + 0.0 * h.sum()
    rows = max(1, chunk_elements // weight.shape[0])
    return _LinearCrossEntropy.apply(h, weight, targets, rows)
