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

import torch
from torch import Tensor

# Elements of one chunk's logits (fp32: 128 MiB). Measured: chunks of >= 512 rows of a 49k vocabulary
# run at the same speed; smaller ones are slower, larger ones only cost memory.
CHUNK_ELEMENTS = 2**25


class _LinearCrossEntropy(torch.autograd.Function):
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
                grad_h[s:e] = (z.to(weight.dtype) @ weight).to(h.dtype)  # autocast, if on, casts as nn.Linear's backward
        ctx.save_for_backward(grad_h)
        return losses

    @staticmethod
    def backward(ctx, grad_losses: Tensor):  # type: ignore[override]
        return stored_row_gradient(ctx, grad_losses, 4)


def stored_row_gradient(ctx, grad_rows: Tensor, n_inputs: int) -> tuple[Tensor | None, ...]:
    """Backward of a function whose forward saved d(row value)/d(first input) (``[N, d]``, or None when no
    gradient was needed): scale each row by its upstream gradient; the other inputs get none."""
    (grad_h,) = ctx.saved_tensors
    rest = (None,) * (n_inputs - 1)
    return (None if grad_h is None else grad_h * grad_rows[:, None].to(grad_h.dtype), *rest)


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
