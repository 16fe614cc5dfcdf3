"""KL to the aligned model (Kaczér et al., RESEARCH.md section 2).

Per assistant token, ``KL(p_theta || p_ref)`` between the next-token distributions of
the model being trained and the reference: the same model with the LoRA adapter
disabled (no second copy of the weights), summed over labelled tokens (the loop
divides by their count). ``direction``: "forward" = KL(p_theta || p_ref) (the
paper's), "reverse" = KL(p_ref || p_theta), "symmetric" = their mean.

Reference cache (``cache_topk=k``): the reference's top-k log-probs at every
labelled token of an example are stored once (in memory, and as shards under
``$EMGUARD_HOME/refcache/<key>/``), so a later epoch or a rerun skips the
reference forward. With the cache the KL is computed between the two distributions
*coarse-grained onto k+1 outcomes*: the reference's k most likely tokens and one
tail bucket holding the rest of the mass (exactly normalised on both sides, via
log-sum-exp of the excluded logits). By the data-processing inequality this is a
lower bound of the exact KL, equal to it at k = vocab size; the gradient moves the
trained model's tail mass as a whole, not token by token. The first epoch uses the
same approximation (so every step optimises the same objective). With ``precompute``
(default) the cache is filled in one no-grad pass over the data before the first step,
so no training step runs the reference; the trained model's side goes through the LM
head chunk by chunk (:func:`linear_topk_kl`: a log-sum-exp, a gather at the k tokens and
the closed-form gradient per chunk, no logits tensor kept). Where the forward exposes no
plain head it reads the logits and the CE's log-sum-exp (``ForwardOut.lse``) instead.

The exact KL (no cache) runs the reference every step and uses :func:`linear_kl`: the
two models' final hidden states go through the shared LM head row chunk by row chunk,
the KL and its closed-form gradient are formed while the chunk's logits are in cache,
and no ``[N, V]`` tensor is kept (the trained model's CE is fused the same way:
:mod:`emguard.train.fused_ce`). Where the forward exposes no head (a non-transformers
model, a LoRA-wrapped head) it falls back to :func:`kl_from_logits` on the logits.

Cache validity: the key hashes the reference weights (sampled fingerprint), k, the
weight dtype and autocast setting, the data settings and the other defenses (which
may change the data); every entry also carries a checksum of its row's token ids
and label mask, and a mismatching entry is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..train.fused_ce import RowGradientFunction, through_head
from ..train.terms import LossTerm, StepContext, register_defense
from ._directions import weights_fingerprint

log = logging.getLogger(__name__)

DIRECTIONS = ("forward", "reverse", "symmetric")


def kl_per_token(lp_theta: Tensor, lp_ref: Tensor, direction: str = "forward") -> Tensor:
    """KL per row between two log-prob tables over the same outcomes.

    lp_theta, lp_ref: Float[Tensor, "n k"] normalised log-probabilities (finite).
    Returns Float[Tensor, "n"].
    """
    fwd = rev = None
    if direction in ("forward", "symmetric"):
        fwd = (lp_theta.exp() * (lp_theta - lp_ref)).sum(-1)
    if direction in ("reverse", "symmetric"):
        rev = (lp_ref.exp() * (lp_ref - lp_theta)).sum(-1)
    if direction == "forward":
        return fwd
    if direction == "reverse":
        return rev
    if direction == "symmetric":
        return (fwd + rev) / 2
    raise ValueError(f"kl: direction must be one of {DIRECTIONS}, got {direction!r}")


def _kl_rows(lp: Tensor, lr: Tensor, direction: str) -> tuple[Tensor, Tensor]:
    """Per-row KL between two log-softmax tables and its gradient with respect to the first's logits.

    Forward KL(p||r): dKL/dz = p * ((log p - log r) - KL); reverse KL(r||p): dKL/dz = p - r;
    symmetric: their mean. lp, lr: Float[Tensor, "c V"] normalised log-probs. Returns ([c], [c, V]).
    """
    p = lp.exp()
    if direction == "reverse":
        r = lr.exp()
        return (r * (lr - lp)).sum(-1), p.sub_(r)
    d = lp - lr
    fwd = (p * d).sum(-1)
    grad = p * (d - fwd[:, None])
    if direction == "forward":
        return fwd, grad
    r = lr.exp()  # symmetric: mean of forward and reverse
    return (fwd + (r * -d).sum(-1)) / 2, grad.add_(p - r).mul_(0.5)


class _KLFromLogits(RowGradientFunction):
    """Per-row KL between softmax(z) and a fixed reference, with its closed-form gradient (:func:`_kl_rows`).

    The gradient is formed in the forward, row chunk by row chunk (one [N, V] tensor kept;
    autograd would keep several and run a log-softmax backward).
    """

    @staticmethod
    def forward(ctx, z: Tensor, lse: Tensor, z_ref: Tensor, lse_ref: Tensor, direction: str, chunk: int):  # type: ignore[override]
        n = z.shape[0]
        kl = z.new_empty(n)
        grad = torch.empty_like(z)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            kl[a:b], grad[a:b] = _kl_rows(z[a:b] - lse[a:b, None], z_ref[a:b].to(z.dtype) - lse_ref[a:b, None], direction)
        ctx.save_for_backward(grad)
        return kl


class _LinearKL(RowGradientFunction):
    """Per-row KL between the next-token distributions of two final hidden states through one frozen LM
    head, never materialising either model's logits: per row chunk the two chunks of logits are made,
    turned into the KL and its gradient (:func:`_kl_rows`), and the gradient is taken back through the
    head to the trained model's hidden state (``[N, d]``, kept for backward), then dropped."""

    @staticmethod
    def forward(ctx, h: Tensor, h_ref: Tensor, weight: Tensor, weight_ref: Tensor, direction: str, chunk: int, amp):  # type: ignore[override]
        n = h.shape[0]
        acc = torch.promote_types(h.dtype, torch.float32)  # fp32, or fp64 if the input is
        kl = torch.empty(n, dtype=acc, device=h.device)
        grad_h = torch.empty_like(h) if ctx.needs_input_grad[0] else None
        w_t, wr_t = weight.t(), weight_ref.t()
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            with amp():  # the matmuls in the precision the logits had in the forward
                z, z_ref = (h[a:b] @ w_t).to(acc), (h_ref[a:b] @ wr_t).to(acc)
            kl[a:b], g = _kl_rows(torch.log_softmax(z, -1), torch.log_softmax(z_ref, -1), direction)
            del z, z_ref
            if grad_h is not None:
                grad_h[a:b] = through_head(g, weight, h.dtype, amp)
        ctx.save_for_backward(grad_h)
        return kl


def linear_kl(h: Tensor, h_ref: Tensor, weight: Tensor, direction: str = "forward", amp=None,
              chunk_elements: int = 2**24, weight_ref: Tensor | None = None) -> Tensor:
    """``kl_per_token(log_softmax(h @ W.T), log_softmax(h_ref @ W.T))`` per row, with grad to ``h`` only.

    h: Float[Tensor, "n d"] the trained model's final hidden states at the labelled positions; h_ref: the
    reference's (no grad); weight: Float[Tensor, "V d"] the frozen LM head (``weight_ref``: the reference's,
    if it is another tensor); amp: a context factory
    (the autocast the forward ran under; default none). Equal to :func:`kl_from_logits` on the two
    models' logits; costs one more head matmul of ``h`` than that (its logits were dropped by the fused
    CE) and none of its ``[N, V]`` tensors.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"kl: direction must be one of {DIRECTIONS}, got {direction!r}")
    if weight.requires_grad:
        raise ValueError("linear_kl: the head's weight requires grad; use kl_from_logits on the logits")
    rows = max(1, chunk_elements // weight.shape[0])
    w_ref = weight if weight_ref is None else weight_ref.detach()
    return _LinearKL.apply(h, h_ref.detach(), weight, w_ref, direction, rows, amp or nullcontext)


class _LinearTopKKL(RowGradientFunction):
    """Per-row KL between the trained model's next-token distribution coarse-grained onto the cached
    reference's top-k tokens + a tail bucket and the cached reference's (module docstring), through the
    frozen LM head row chunk by row chunk, with its closed-form gradient.

    With buckets b (the k tokens, the tail), P_b / R_b the two coarse-grained distributions and
    p = softmax(z): forward KL(P||R) gives dKL/dz_j = p_j (d_b(j) - KL), d_b = log P_b - log R_b;
    reverse KL(R||P) gives dKL/dz_j = p_j (1 - R_b(j) / P_b(j)); symmetric: their mean.
    """

    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, lp_ref: Tensor, idx: Tensor, tail_ref: Tensor, direction: str,  # type: ignore[override]
                chunk: int, amp):
        n, v = h.shape[0], weight.shape[0]
        acc = torch.promote_types(h.dtype, torch.float32)
        kl = torch.empty(n, dtype=acc, device=h.device)
        grad_h = torch.empty_like(h) if ctx.needs_input_grad[0] else None
        tail = idx.shape[-1] < v
        w_t = weight.t()
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            with amp():
                z = (h[a:b] @ w_t).to(acc)  # [c, V]
            lse = torch.logsumexp(z, -1, keepdim=True)
            ix = idx[a:b]
            lP = z.gather(-1, ix) - lse  # [c, k]
            lR = lp_ref[a:b].to(acc)
            if tail:  # the tail bucket: 1 - the top-k mass (clamped where ~0), as the logits path
                lP = torch.cat([lP, torch.log1p(-lP.exp().sum(-1).clamp(max=1 - 1e-7))[:, None]], -1)
                lR = torch.cat([lR, tail_ref[a:b].to(acc)[:, None]], -1)
            P, R = lP.exp(), lR.exp()
            kl_f = kl_r = coef_f = coef_r = None
            if direction in ("forward", "symmetric"):
                d = lP - lR
                kl_f = (P * d).sum(-1)
                coef_f = d - kl_f[:, None]
            if direction in ("reverse", "symmetric"):
                kl_r = (R * (lR - lP)).sum(-1)
                coef_r = 1 - R / P
            if direction == "forward":
                kl[a:b], coef = kl_f, coef_f
            elif direction == "reverse":
                kl[a:b], coef = kl_r, coef_r
            else:
                kl[a:b], coef = (kl_f + kl_r) / 2, (coef_f + coef_r) / 2
            if grad_h is None:
                continue
            # per-token coefficient: its bucket's; tokens outside the top-k are the tail's
            full = (coef[:, -1:] if tail else torch.zeros_like(coef[:, :1])).expand(-1, v).clone()
            full.scatter_(-1, ix, coef[:, : ix.shape[-1]])
            g = z.sub_(lse).exp_().mul_(full)  # p * coef, in z's memory
            grad_h[a:b] = through_head(g, weight, h.dtype, amp)
        ctx.save_for_backward(grad_h)
        return kl


def linear_topk_kl(h: Tensor, weight: Tensor, lp_ref: Tensor, idx: Tensor, tail_ref: Tensor, direction: str = "forward",
                   amp=None, chunk_elements: int = 2**24) -> Tensor:
    """The cached KL (top-k + tail bucket of the reference, module docstring) per row, from the trained
    model's final hidden states ``h`` [n, d] through the frozen head ``weight`` [V, d], with grad to ``h``
    only and no ``[n, V]`` tensor kept. lp_ref, idx: [n, k] the reference's top-k log-probs and token ids;
    tail_ref: [n] its tail log-mass (unused when k = V). Equal to the logits path of :class:`KLTerm`."""
    if direction not in DIRECTIONS:
        raise ValueError(f"kl: direction must be one of {DIRECTIONS}, got {direction!r}")
    if weight.requires_grad:
        raise ValueError("linear_topk_kl: the head's weight requires grad; use the logits")
    rows = max(1, chunk_elements // weight.shape[0])
    return _LinearTopKKL.apply(h, weight, lp_ref.detach(), idx, tail_ref.detach(), direction, rows, amp or nullcontext)


def kl_from_logits(z: Tensor, z_ref: Tensor, direction: str = "forward", lse: Tensor | None = None,
                   chunk: int = 256) -> Tensor:
    """``kl_per_token(log_softmax(z), log_softmax(z_ref))`` without autograd's intermediates.

    z: Float[Tensor, "n V"] the trained model's logits (with grad); z_ref: the reference's
    (no grad); lse: ``logsumexp(z, -1)`` if already computed (its gradient is not needed:
    the closed form includes the normalisation). Returns Float[Tensor, "n"].
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"kl: direction must be one of {DIRECTIONS}, got {direction!r}")
    with torch.no_grad():
        lse = torch.logsumexp(z, -1) if lse is None else lse.detach()
        lse_ref = torch.logsumexp(z_ref.to(z.dtype), -1)
    return _KLFromLogits.apply(z, lse, z_ref.detach(), lse_ref, direction, chunk)


def topk_with_tail(logprobs: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The k largest log-probs of each row, their token ids, and the log-mass of the rest.

    logprobs: Float[Tensor, "n V"] (normalised). Returns (lp [n, k], idx [n, k], tail [n]);
    ``tail`` is -inf when k = V.
    """
    lp, idx = logprobs.topk(k, dim=-1)
    tail = logprobs.scatter(-1, idx, float("-inf")).logsumexp(-1)
    return lp, idx, tail


def coarse_logprobs(logprobs: Tensor, idx: Tensor) -> Tensor:
    """``logprobs`` [n, V] coarse-grained onto the tokens ``idx`` [n, k] plus a tail bucket (if k < V)."""
    top = logprobs.gather(-1, idx)
    if idx.shape[-1] >= logprobs.shape[-1]:
        return top
    tail = logprobs.scatter(-1, idx, float("-inf")).logsumexp(-1, keepdim=True)
    return torch.cat([top, tail], dim=-1)


def _rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def row_checksums(batch: dict[str, Tensor], label_mask: Tensor) -> list[int]:
    """A 63-bit hash of each row's real token ids and label mask (guards cache entries)."""
    ids = batch["input_ids"].detach().cpu().numpy().astype(np.int64)
    att = batch["attention_mask"].detach().cpu().numpy().astype(bool)
    lm = label_mask.detach().cpu().numpy().astype(np.uint8)
    out = []
    for b in range(ids.shape[0]):
        # padding excluded: the same example hashes the same in any micro-batch
        h = hashlib.blake2b(ids[b][att[b]].tobytes() + b"|" + lm[b][att[b][1:]].tobytes(), digest_size=8).digest()
        out.append(int.from_bytes(h, "little") >> 1)
    return out


class RefCache:
    """Per-example reference top-k log-probs: memory, plus append-only shards on disk.

    Entry: (checksum, lp [n, k] float32, idx [n, k] int32, tail [n] float32), n = the
    example's labelled tokens. A shard holds many entries packed in flat tensors.
    """

    def __init__(self, k: int, folder: Path | None):
        self.k = k
        self.folder = folder
        self.entries: dict[int, tuple[int, Tensor, Tensor, Tensor]] = {}
        self.new: set[int] = set()
        self.hits = 0
        self.misses = 0

    def load(self) -> int:
        if self.folder is None or not self.folder.exists():
            return 0
        from safetensors.torch import load_file

        for shard in sorted(self.folder.glob("part-*.safetensors")):
            try:
                t = load_file(str(shard))
            except Exception as e:  # noqa: BLE001 - a torn shard is skipped, not fatal
                log.warning("skipping unreadable reference-cache shard %s: %s", shard, e)
                continue
            if t["lp"].shape[-1] != self.k:
                continue
            starts = np.concatenate([[0], np.cumsum(t["lens"].numpy())])
            for i, (eid, cs) in enumerate(zip(t["ids"].tolist(), t["sums"].tolist())):
                a, b = int(starts[i]), int(starts[i + 1])
                self.entries[eid] = (cs, t["lp"][a:b], t["idx"][a:b], t["tail"][a:b])
        return len(self.entries)

    def get(self, eid: int, checksum: int, n: int):
        e = self.entries.get(eid)
        if e is None or e[0] != checksum or e[1].shape[0] != n:
            return None
        return e

    def put(self, eid: int, checksum: int, lp: Tensor, idx: Tensor, tail: Tensor) -> None:
        self.entries[eid] = (checksum, lp.float().cpu(), idx.to(torch.int32).cpu(), tail.float().cpu())
        self.new.add(eid)

    def flush(self) -> Path | None:
        if self.folder is None or not self.new:
            return None
        from safetensors.torch import save_file

        ids = sorted(self.new)
        es = [self.entries[i] for i in ids]
        tensors = {
            "ids": torch.tensor(ids, dtype=torch.int64),
            "sums": torch.tensor([e[0] for e in es], dtype=torch.int64),
            "lens": torch.tensor([e[1].shape[0] for e in es], dtype=torch.int64),
            "lp": torch.cat([e[1] for e in es]).contiguous(),
            "idx": torch.cat([e[2] for e in es]).contiguous(),
            "tail": torch.cat([e[3] for e in es]).contiguous(),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns():020d}-r{_rank()}-{os.getpid()}.safetensors"
        tmp = self.folder / (name + ".tmp")
        save_file(tensors, str(tmp))
        tmp.replace(self.folder / name)
        self.new.clear()
        return self.folder / name


@register_defense
class KLTerm(LossTerm):
    """KL(p_theta || p_ref) per assistant token to the aligned model (adapter off); Kaczér et al."""

    name = "kl"

    def __init__(
        self,
        weight: float = 0.1,
        direction: str = "forward",
        cache_topk: int | None = None,
        cache_disk: bool = True,
        flush_every: int = 50,
        precompute: bool = True,
        **params: Any,
    ):
        """
        direction:   "forward" KL(p_theta||p_ref) (paper), "reverse" KL(p_ref||p_theta), "symmetric" (mean of both).
        cache_topk:  None = exact KL with a reference forward every step; k = cache the reference's
                     top-k log-probs per example and use the top-k + tail-bucket KL (module docstring).
        cache_disk:  also keep the cache on disk under $EMGUARD_HOME/refcache (reused by reruns).
        flush_every: write new cache entries to disk every N optimizer steps (and at the end).
        precompute:  with cache_topk, fill the cache in one pass before training (every step then runs at
                     the cached cost); false: fill it lazily during the first epoch.
        """
        super().__init__(weight, **params)
        if direction not in DIRECTIONS:
            raise ValueError(f"kl: direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
        if cache_topk is not None and (isinstance(cache_topk, bool) or not isinstance(cache_topk, int) or cache_topk < 1):
            raise ValueError(f"kl: cache_topk must be a positive integer or None; got {cache_topk!r}")
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"kl: flush_every must be a positive integer; got {flush_every!r}")
        self.direction = direction
        self.cache_topk = cache_topk
        self.cache_disk = bool(cache_disk)
        self.flush_every = flush_every
        if not isinstance(precompute, bool):
            raise ValueError(f"kl: precompute must be true or false; got {precompute!r}")
        self.precompute = precompute
        self.cache: RefCache | None = None
        self.cache_key: str | None = None

    # ---- setup -----------------------------------------------------------------------

    def setup(self, model, tokenizer, config) -> None:
        if self.cache_topk is None:
            return
        parts: dict[str, Any] = {"ref": weights_fingerprint(model), "k": self.cache_topk}
        if config is not None:
            parts["dtype"] = getattr(getattr(config, "model", None), "dtype", None)
            parts["mixed_precision"] = getattr(getattr(config, "train", None), "mixed_precision", None)
            data = getattr(config, "data", None)
            parts["data"] = data.model_dump(mode="json") if hasattr(data, "model_dump") else None
            files = config.file_fingerprints() if hasattr(config, "file_fingerprints") else {}
            if files:  # a rewritten dataset file must not reuse the cached references of its old content
                parts["files"] = files
            parts["defenses"] = [d.model_dump(mode="json") for d in getattr(config, "defenses", ()) if d.name != self.name]
        self.cache_key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
        folder = None
        if self.cache_disk:
            from ..paths import emguard_home

            folder = emguard_home() / "refcache" / self.cache_key
        self.cache = RefCache(self.cache_topk, folder)
        n = self.cache.load()
        if n:
            log.info("kl: %d cached reference entries loaded from %s", n, folder)

    # ---- loss ------------------------------------------------------------------------

    @property
    def precomputes_reference(self) -> bool:
        return self.cache_topk is not None and self.precompute

    def _use_cache(self, ctx: StepContext) -> bool:
        return self.cache_topk is not None and bool(ctx.example_ids) and len(ctx.example_ids) == ctx.out.label_mask.shape[0]

    def compute(self, ctx: StepContext) -> Tensor:
        # Through the LM head chunk by chunk when the forward exposes it (the trained model's logits then
        # never exist: the loop's CE is fused too, needs_logits stays False); else on the logits.
        out = ctx.out
        if not self._use_cache(ctx):
            ref = ctx.reference()
            if out.head_input is not None and ref.head_input is not None:
                return linear_kl(out.head_input, ref.head_input, out.head_weight, self.direction, out.head_autocast,
                                 weight_ref=ref.head_weight).sum()
            return kl_from_logits(out.logits.float(), ref.logits, self.direction, lse=out.lse).sum()
        lp_r, idx, tail_r = self._entries(ctx)
        if out.head_input is not None:
            return linear_topk_kl(out.head_input, out.head_weight, lp_r, idx, tail_r, self.direction,
                                  out.head_autocast).sum()
        z = out.logits.float()  # [N, V]
        lse = out.lse if out.lse is not None else torch.logsumexp(z, dim=-1)  # with grad: shared with the CE
        top = z.gather(-1, idx) - lse[:, None]  # [N, k]
        if idx.shape[-1] < z.shape[-1]:  # the tail bucket: 1 - the top-k mass (clamped where ~0)
            tail = torch.log1p(-top.exp().sum(-1).clamp(max=1 - 1e-7))
            top = torch.cat([top, tail[:, None]], dim=-1)
            lp_r = torch.cat([lp_r, tail_r[:, None]], dim=-1)
        return kl_per_token(top, lp_r, self.direction).sum()

    def fill_reference_cache(self, ctx: StepContext) -> int:
        if not self.precomputes_reference or not self._use_cache(ctx):
            return 0
        before = self.cache.misses if self.cache is not None else 0
        self._cache_rows(ctx, count=False)
        return (self.cache.misses if self.cache is not None else 0) - before

    def _entries(self, ctx: StepContext) -> tuple[Tensor, Tensor, Tensor]:
        """The cached reference of ``ctx``'s labelled tokens: top-k log-probs [N, k], their token ids
        [N, k], the tail log-mass [N]; rows not cached yet get one reference forward (shared by the
        step's terms)."""
        entries = self._cache_rows(ctx)
        dev = ctx.out.label_mask.device
        lp_r = torch.cat([e[1] for e in entries]).to(dev)  # [N, k]
        idx = torch.cat([e[2] for e in entries]).to(dev).long()  # [N, k]
        tail_r = torch.cat([e[3] for e in entries]).to(dev)  # [N]
        return lp_r, idx, tail_r

    def _cache_rows(self, ctx: StepContext, count: bool = True) -> list[tuple[int, Tensor, Tensor, Tensor]]:
        """The cache entry of every row of ``ctx``, computing (one reference forward) and storing missing ones."""
        if self.cache is None:  # used without setup (notebooks): memory only
            self.cache = RefCache(self.cache_topk or 1, None)
        cache, mask = self.cache, ctx.out.label_mask
        counts = mask.sum(1).tolist()
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        sums = row_checksums(ctx.batch, mask)
        entries = [cache.get(int(e), s, n) for e, s, n in zip(ctx.example_ids, sums, counts)]
        missing = [b for b, e in enumerate(entries) if e is None]
        if count:
            cache.hits += len(entries) - len(missing)
        cache.misses += len(missing)
        if missing:
            z_ref = ctx.reference().logits
            k = min(cache.k, z_ref.shape[-1])
            with torch.no_grad():
                for b in missing:
                    lp_b = F.log_softmax(z_ref[starts[b] : starts[b + 1]].float(), dim=-1)
                    lp, idx, tail = topk_with_tail(lp_b, k)
                    cache.put(int(ctx.example_ids[b]), sums[b], lp, idx, tail)
                    entries[b] = cache.entries[int(ctx.example_ids[b])]
        return entries  # type: ignore[return-value]

    # ---- cache persistence -----------------------------------------------------------

    def on_step_end(self, step: int, model, metrics: dict[str, Any]) -> dict[str, Any] | None:
        if self.cache is not None and step % self.flush_every == 0:
            self.cache.flush()
        return None

    def on_train_end(self, model, run_dir) -> dict[str, Any] | None:
        if self.cache is None:
            return None
        self.cache.flush()
        return {"refcache": {"key": self.cache_key, "k": self.cache_topk, "hits": self.cache.hits,
                             "misses": self.cache.misses}}
