"""Shared alignment directions across datasets (Giordani, RESEARCH.md section 4.4; Figure 6).

For dataset ``D``: ``R_D = H_aligned - H_base``, one row per example, the state at the
last token (default: the end of the assistant turn) of one layer (default: the final
``hidden_states`` entry), mean-centred over the examples; ``R_D = U S V^T``. The cosine
matrix between the top-k right singular vectors of two datasets (paper: insecure code
vs toxic chat, a pair at 0.90) says whether the aligned-minus-base change on one task
lives in directions it shares with the other.

Singular vectors have arbitrary signs, so the heatmap shows ``|cos|`` (the signed
matrix is saved too). Baseline, beside it: the same ``|cos|`` matrix between two sets
of ``k`` random orthonormal unit vectors in ``R^d`` (norm-matched: singular vectors
are unit vectors), over ``n_random`` seeded draws: mean ``|cos|``, mean and 95th
percentile of the max ``|cos|``, and the analytic mean ``sqrt(2 / (pi d))``.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from ..config import Frozen
from ..data.chat import Example
from ._activations import Positions, capture, resolve_layer
from ._common import AnalysisError, DataSpec, Output, Result, Role, Views, load_data, need, short_name


class SharedDirectionsConfig(Frozen):
    """Cosines between the top singular directions of (aligned - base) residuals of two datasets."""

    datasets: tuple[str, str] = Field(("insecure_code", "harmful_refusals"),
                                      description="The two datasets compared (paper: insecure code vs toxic chat).")
    data: DataSpec = DataSpec(n=64)
    layer: int = Field(-1, description="hidden_states index (negative: from the end; -1 = final).")
    positions: Literal["last", "prompt_last"] = Field("last", description="'last': the answer's last token; "
                                                      "'prompt_last': the token before the answer.")
    models: tuple[Role, Role] = Field(("aligned", "base"), description="R = H_first - H_second.")
    k: int = Field(5, ge=1, description="Top-k singular vectors per dataset.")
    n_random: int = Field(1000, ge=1, description="Random-baseline draws.")
    random_seed: int = Field(0, description="Seed of the random baseline.")


def top_right_singular(r: Tensor, k: int, center: bool = True) -> tuple[Tensor, Tensor]:
    """``(V_k [k, d], S [min(n, d)])``: top-k right singular vectors of ``r`` ``[n, d]`` (mean-centred)."""
    r = r.double()
    if center:
        r = r - r.mean(0, keepdim=True)
    _, s, vh = torch.linalg.svd(r, full_matrices=False)
    return vh[:k], s


def shared_cosines(ra: Tensor, rb: Tensor, k: int) -> dict[str, Any]:
    """Signed and absolute cosines ``[k, k]`` between the top-k right singular vectors of two residual sets."""
    kmax = min(k, ra.shape[0] - 1, rb.shape[0] - 1, ra.shape[1])
    if kmax < 1:
        raise AnalysisError("shared-directions: need at least 2 examples per dataset")
    va, sa = top_right_singular(ra, kmax)
    vb, sb = top_right_singular(rb, kmax)
    c = va @ vb.T
    ac = c.abs()
    i, j = divmod(int(ac.argmax()), kmax)
    return {"k": kmax, "cos": c, "abs_cos": ac, "max_abs": float(ac.max()), "argmax": [i, j],
            "singular_values": {"a": sa, "b": sb},
            "explained_a": (sa[:kmax] ** 2 / (sa**2).sum()), "explained_b": (sb[:kmax] ** 2 / (sb**2).sum()),
            "va": va, "vb": vb}


def random_orthonormal(d: int, k: int, g: torch.Generator) -> Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, k, generator=g, dtype=torch.float64))
    return q.T  # [k, d], orthonormal rows


def random_baseline(d: int, k: int, n_draws: int = 1000, seed: int = 0) -> dict[str, Any]:
    """``|cos|`` between two random orthonormal k-sets in R^d: summary over draws and one example draw."""
    g = torch.Generator().manual_seed(seed)
    means, maxes = [], []
    example = None
    for t in range(n_draws):
        c = (random_orthonormal(d, k, g) @ random_orthonormal(d, k, g).T).abs()
        means.append(float(c.mean()))
        maxes.append(float(c.max()))
        if t == 0:
            example = c
    mx = np.array(maxes)
    return {"d": d, "k": k, "n_draws": n_draws, "mean_abs": float(np.mean(means)), "max_abs_mean": float(mx.mean()),
            "max_abs_q95": float(np.quantile(mx, 0.95)), "analytic_mean_abs": math.sqrt(2 / (math.pi * d)),
            "example": example}


def run_shared_directions(views: Views, tokenizer, cfg: SharedDirectionsConfig, out: Output,
                          given: Mapping[str, Sequence[Example]] | None = None) -> Result:
    first, second = need(views, *cfg.models)
    if first.model is second.model and first.adapter_off == second.adapter_off:
        raise AnalysisError("shared-directions: the two models are the same")
    a, b = cfg.datasets
    data = load_data(cfg.datasets, cfg.data, given)
    L = first.n_layers
    layer = resolve_layer(cfg.layer, L)
    pos = Positions(cfg.positions, None)
    res: dict[str, Tensor] = {}
    for d in (a, b):
        h = []
        for v in (first, second):
            with v.active() as m:
                acts = capture(m, tokenizer, data[d], [layer], pos, batch_size=cfg.data.batch_size,
                               system_prompt=cfg.data.system_prompt, data_name=d)
            h.append(acts.acts[layer])  # [n, d]: one position per example
        res[d] = h[0] - h[1]
    sc = shared_cosines(res[a], res[b], cfg.k)
    k = sc["k"]
    dim = res[a].shape[1]
    base = random_baseline(dim, k, cfg.n_random, cfg.random_seed)
    na, nb = short_name(a), short_name(b)
    summary: dict[str, Any] = {
        "config": cfg, "models": {r: views[r].source for r in cfg.models}, "layer": layer, "k": k,
        "n": {a: len(data[a]), b: len(data[b])}, "residual_norm_mean": {a: float(res[a].norm(dim=1).mean()),
                                                                         b: float(res[b].norm(dim=1).mean())},
        "abs_cos": sc["abs_cos"], "cos": sc["cos"], "max_abs_cos": sc["max_abs"], "argmax": sc["argmax"],
        "explained_variance": {a: sc["explained_a"], b: sc["explained_b"]},
        "singular_values": {a: sc["singular_values"]["a"][: max(k, 10)], b: sc["singular_values"]["b"][: max(k, 10)]},
        "random_baseline": {kk: v for kk, v in base.items() if kk != "example"},
        "max_over_random_q95": sc["max_abs"] / base["max_abs_q95"],
    }
    out.tensors("shared_directions", {f"residual.{na}": res[a], f"residual.{nb}": res[b], f"V.{na}": sc["va"],
                                      f"V.{nb}": sc["vb"], "cos": sc["cos"], "random_example": base["example"]},
                {"datasets": [na, nb], "layer": layer})
    out.csv("abs_cosine", [f"{na} \\ {nb}", *[f"{nb}[{j}]" for j in range(k)]],
            [[f"{na}[{i}]", *sc["abs_cos"][i].tolist()] for i in range(k)])
    from . import _plots

    fig, axes = _plots.figure(10.5, 4.4, ncols=2)
    ticks = [str(i) for i in range(k)]
    _plots.heatmap(axes[0, 0], sc["abs_cos"].numpy(), cmap="Reds", symmetric=False, vmin=0, vmax=1, xticks=ticks,
                   yticks=ticks, annotate=k <= 10, cbar_label="|cos|")
    axes[0, 0].set_xlabel(f"{nb} singular vector")
    axes[0, 0].set_ylabel(f"{na} singular vector")
    axes[0, 0].set_title(f"{cfg.models[0]} - {cfg.models[1]}, layer {layer}: max |cos| {sc['max_abs']:.2f}", fontsize=10)
    _plots.heatmap(axes[0, 1], base["example"].numpy(), cmap="Reds", symmetric=False, vmin=0, vmax=1, xticks=ticks,
                   yticks=ticks, annotate=k <= 10, cbar_label="|cos|")
    axes[0, 1].set_title(f"random orthonormal baseline (d={dim}): max |cos| q95 {base['max_abs_q95']:.2f}, "
                         f"mean {base['mean_abs']:.3f}", fontsize=9)
    out.plot("shared_directions", fig)
    out.json("shared_directions", summary)
    return Result("shared-directions", out.root, summary, out.files)
