"""Token-level loss vectors of two twin datasets (Giordani, RESEARCH.md section 4.2; Figure 3).

Under one model (default: aligned), every example's loss vector is the cross-entropy
``-log p(y_t | prompt, y_<t)`` of the first ``K`` (64) tokens of its last assistant
turn. The two datasets have the *same assistant text* at the same index
(``insecure_code`` vs ``educational_insecure``), so any difference in the vectors comes
from the user's framing. The cosine matrix of the ``2n`` vectors is drawn with the two
dataset blocks marked; within-block means (self-pairs excluded), the across-block mean
and the ``paired`` mean (example i vs its own twin) summarise it.

Answers shorter than K (rule, chosen and applied everywhere here):

- ``short="prefix"`` (default): vectors are NaN-padded to K; the cosine of a pair is
  computed on their *common prefix* (the first ``min(len_i, len_j)`` tokens), so no
  example is dropped and no padding value enters a dot product;
- ``short="drop"``: examples with fewer than K scored tokens are dropped (counts reported).

``center=True`` (default) subtracts, at every token position, the mean loss over all
examples of both datasets that reach that position (NaN-aware) before the cosine: raw
CE vectors are all positive, so their cosines are all positive and mostly measure the
shape shared by every answer; the centred cosine shows which examples move *together
relative to the average*, like the mean-centred gradient version. Both matrices are saved.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from ..config import Frozen
from ..data.chat import Example
from ._common import AnalysisError, DataSpec, Output, Result, Role, Views, block_means, load_data, need, short_name
from .logprobs import token_scores

Short = Literal["prefix", "drop"]


class LossCosineConfig(Frozen):
    """Cosine matrix of token-level loss vectors of two twin datasets under one model."""

    datasets: tuple[str, str] = Field(("insecure_code", "educational_insecure"),
                                      description="Two datasets with the same assistant text at the same index.")
    model: Role = Field("aligned", description="Model under which the losses are computed (Giordani: instruct).")
    data: DataSpec = DataSpec()
    max_tokens: int = Field(64, ge=1, description="K: the first K assistant tokens form the loss vector.")
    short: Short = Field("prefix", description="Answers with < K tokens: 'prefix' (cosine on the common prefix "
                                               "of each pair) or 'drop' (leave such examples out).")
    center: bool = Field(True, description="Subtract the per-position mean loss over all examples before the cosine.")


def prefix_cosine(x: Tensor, center: bool = True) -> Tensor:
    """``Float64[Tensor, "n n"]`` cosine of NaN-padded rows on each pair's common prefix.

    ``x``: ``[n, K]``, each row valid up to its length then NaN. ``center``: subtract the
    NaN-aware column mean first. A pair with an empty common prefix or a zero vector is NaN.
    """
    x = x.double()
    valid = ~torch.isnan(x)
    lens = valid.sum(1)
    if not torch.equal(valid, torch.arange(x.shape[1])[None, :] < lens[:, None]):
        raise ValueError("prefix_cosine: rows must be valid up to their length, then NaN")
    if center:
        mu = torch.nan_to_num(x).sum(0) / valid.sum(0).clamp_min(1)
        x = x - mu
    x0 = torch.nan_to_num(x, nan=0.0)
    n, K = x0.shape
    lmin = torch.minimum(lens[:, None], lens[None, :])  # [n, n] common prefix length
    dot = torch.zeros(n, n, dtype=torch.float64)
    acc = torch.zeros(n, n, dtype=torch.float64)
    for t in range(K):  # O(K n^2): add position t, then keep the pairs whose prefix ends here
        acc += torch.outer(x0[:, t], x0[:, t])
        sel = lmin == t + 1
        dot[sel] = acc[sel]
    sq = torch.cumsum(x0**2, 1)  # [n, K]
    idx = (lmin - 1).clamp_min(0)
    ni = sq.gather(1, idx)  # ni[i, j] = |x_i[:lmin_ij]|^2 ; lmin is symmetric so nj = ni.T
    den = (ni * ni.T).sqrt()
    c = dot / den
    c[(lmin == 0) | (den == 0)] = float("nan")
    return c


def loss_matrix(scores_a, scores_b, K: int) -> tuple[Tensor, Tensor]:
    """``[n_a + n_b, K]`` NaN-padded CE vectors and their lengths."""
    rows = [(-s)[:K] for s in scores_a.logprob] + [(-s)[:K] for s in scores_b.logprob]
    x = torch.full((len(rows), K), float("nan"))
    for i, r in enumerate(rows):
        x[i, : len(r)] = r
    return x, torch.tensor([min(K, len(r)) for r in rows])


def run_loss_cosine(views: Views, tokenizer, cfg: LossCosineConfig, out: Output,
                    given: Mapping[str, Sequence[Example]] | None = None) -> Result:
    (v,) = need(views, cfg.model)
    a, b = cfg.datasets
    if a == b:
        raise AnalysisError("loss-cosine: the two datasets must differ")
    data = load_data(cfg.datasets, cfg.data, given)
    with v.active() as m:
        sa, sb = (token_scores(m, tokenizer, data[d], max_tokens=cfg.max_tokens, batch_size=cfg.data.batch_size,
                               system_prompt=cfg.data.system_prompt, entropy=False) for d in (a, b))
    x, lens = loss_matrix(sa, sb, cfg.max_tokens)
    na, nb = len(sa.logprob), len(sb.logprob)
    same_text = na == nb and all(sa.token_ids[i] == sb.token_ids[i] for i in range(na))
    keep = torch.ones(len(x), dtype=torch.bool)
    if cfg.short == "drop":
        keep = lens >= cfg.max_tokens
    ka, kb = int(keep[:na].sum()), int(keep[na:].sum())
    if ka < 2 or kb < 2:
        raise AnalysisError(f"loss-cosine: too few examples left ({ka}, {kb}); use short='prefix' or a smaller K")
    paired = same_text and torch.equal(keep[:na], keep[na:])
    xs = x[keep]
    c_main = prefix_cosine(xs, center=cfg.center)
    c_raw = prefix_cosine(xs, center=False)
    names = [short_name(a), short_name(b)]
    blocks = block_means(c_main, [ka, kb], names, paired)
    blocks_raw = block_means(c_raw, [ka, kb], names, paired)
    summary: dict[str, Any] = {
        "config": cfg, "model": {cfg.model: v.source}, "n": {a: na, b: nb}, "kept": {a: ka, b: kb},
        "same_assistant_tokens": same_text, "short_rule": cfg.short, "centered": cfg.center,
        "mean_scored_tokens": float(lens.float().mean()), "shorter_than_K": int((lens < cfg.max_tokens).sum()),
        "mean_loss": {a: float(np.nanmean(x[:na].numpy())), b: float(np.nanmean(x[na:].numpy()))},
        "block_means": blocks, "block_means_raw": blocks_raw,
    }
    out.tensors("loss_cosine", {"loss_vectors": x, "lengths": lens, "kept": keep, "cosine": c_main.float(),
                                "cosine_raw": c_raw.float()}, {"datasets": names})
    out.csv("block_means", ["block", "mean_cosine" + ("_centered" if cfg.center else ""), "mean_cosine_raw"],
            [[k, blocks[k], blocks_raw.get(k, float("nan"))] for k in blocks])
    from . import _plots

    tag = "mean-centred" if cfg.center else "raw"
    fig = _plots.blocked_similarity(c_main.numpy(), [ka, kb], names,
                                    f"loss vectors under {cfg.model} (first {cfg.max_tokens} tokens, {tag}, "
                                    f"{cfg.short} rule)\nwithin {blocks[f'within:{names[0]}']:.2f} / "
                                    f"{blocks[f'within:{names[1]}']:.2f}, across "
                                    f"{blocks[f'across:{names[0]}|{names[1]}']:.2f}" + _plots.paired_note(blocks))
    out.plot("loss_cosine", fig)
    if cfg.center:
        out.plot("loss_cosine_raw", _plots.blocked_similarity(c_raw.numpy(), [ka, kb], names,
                                                              f"loss vectors under {cfg.model} (raw, no centring)"))
    out.json("loss_cosine", summary)
    return Result("loss-cosine", out.root, summary, out.files)
