"""Projection on the alignment direction, layer by layer (Giordani, RESEARCH.md section 4.3; Figure 5).

``d_l = mean_x h_l^aligned(x) - mean_x h_l^base(x)`` over the first ``N`` (10) assistant
tokens of the direction data, from :func:`emguard.defenses._directions.alignment_directions`
(same definition, probe encoding and cache as the ``anchor`` defense and the ``drift``
monitor). For each model, the mean scalar projection ``<h_l, d_l / |d_l|>`` of its
states at the same positions of the projection data is plotted over layers, with a
bootstrap CI over examples (the tokens of one example are not independent).

In-sample by default (direction and projection on the same data): the aligned and base
lines are then apart by exactly ``|d_l|`` (checked: ``gap_check_max_abs_err``) and what
the plot says is where the fine-tuned model sits between them. ``normalized`` =
``(p - p_base) / (p_aligned - p_base)``: 0 = base, 1 = aligned. Finding to compare
with: the misaligned model tracks instruct early and falls to base (or below) in deep
layers. Layers where ``d_l = 0`` (e.g. embeddings a LoRA alignment did not touch) are NaN.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from ..config import Frozen
from ..data.chat import Example
from ..data.tokenize import with_system
from ..defenses._directions import alignment_directions, is_peft
from ._activations import Activations, Positions, capture, resolve_layer
from ._common import (
    ROLES,
    AnalysisError,
    DataSpec,
    Output,
    Result,
    Role,
    Views,
    bootstrap_ratio_ci,
    load_data,
    need,
    short_name,
)


class LayerProjectionConfig(Frozen):
    """Mean projection of each model's states on the per-layer alignment direction."""

    datasets: tuple[str, ...] = Field(("insecure_code",), description="Data whose states are projected (pooled).")
    direction_datasets: tuple[str, ...] | None = Field(None, description="Data defining d_l (None: the same data).")
    data: DataSpec = DataSpec()
    n_tokens: int = Field(10, ge=1, description="N: the first N assistant tokens of each example.")
    layers: tuple[int, ...] | None = Field(None, description="hidden_states indices (None: all, 0..L).")
    models: tuple[Role, ...] = Field(ROLES, description="Models projected (base and aligned are required).")
    n_boot: int = Field(1000, ge=0, description="Bootstrap resamples over examples.")


def explicit_system(examples: Sequence[Example], system_prompt: str) -> list[Example]:
    """Examples with the system prompt written into their messages (so every encoder uses it)."""
    return [Example(tuple(with_system(e.messages, system_prompt)), e.meta) for e in examples]


def mean_projections(acts: Activations, unit: Tensor, layers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per example and layer, the *sum* of the scalar projections ``<h, unit[l]>`` over its positions
    (``[n, len(layers)]``), and the number of positions per example (``[n]``): a ratio of sums
    gives the token-weighted mean, also under resampling of examples."""
    sums = np.zeros((acts.n_examples, len(layers)))
    for j, l in enumerate(layers):
        p = (acts.acts[l].double() @ unit[l].double()).numpy()  # [P] scalar projections
        np.add.at(sums[:, j], acts.example.numpy(), p)
    return sums, acts.counts().double().numpy()


def run_layer_projection(views: Views, tokenizer, cfg: LayerProjectionConfig, out: Output,
                         given: Mapping[str, Sequence[Example]] | None = None) -> Result:
    base, aligned = need(views, "base", "aligned")
    if is_peft(aligned.model) and not aligned.adapter_off:
        raise AnalysisError("layer-projection: the aligned model is a PEFT model with its adapter on; pass it merged")
    if base.model is aligned.model:
        raise AnalysisError("layer-projection: base and aligned are the same model (no alignment direction)")
    roles = [r for r in cfg.models if r in views]
    for r in ("base", "aligned"):
        if r not in roles:
            roles.insert(0, r)
    L = aligned.n_layers
    layers = list(range(L + 1)) if cfg.layers is None else sorted({resolve_layer(l, L) for l in cfg.layers})
    proj_specs = cfg.datasets
    dir_specs = cfg.direction_datasets or cfg.datasets
    data = load_data(list(dict.fromkeys([*proj_specs, *dir_specs])), cfg.data, given)
    proj_ex = explicit_system([e for d in proj_specs for e in data[d]], cfg.data.system_prompt)
    dir_ex = explicit_system([e for d in dir_specs for e in data[d]], cfg.data.system_prompt)
    in_sample = list(dir_specs) == list(proj_specs)

    # the base model may be the fine-tuned module with its adapter off: keep it off while it is read
    with base.active():
        dirs = alignment_directions(aligned.model, tokenizer, base.model, dir_ex, n_tokens=cfg.n_tokens,
                                    batch_size=cfg.data.batch_size)
    direction = dirs.direction  # [L+1, d]
    gap = direction.norm(dim=-1)
    ok = gap > 1e-6 * float(gap.max().clamp_min(1e-30))
    unit = torch.where(ok[:, None], direction / gap.clamp_min(1e-30)[:, None], torch.zeros_like(direction))

    pos = Positions("first_n", cfg.n_tokens)
    per_example: dict[str, torch.Tensor] = {}
    stats: dict[str, dict[str, np.ndarray]] = {}
    for r in roles:
        with views[r].active() as m:
            acts = capture(m, tokenizer, proj_ex, layers, pos, batch_size=cfg.data.batch_size,
                           data_name="+".join(proj_specs))
        sums, counts = mean_projections(acts, unit, layers)
        est, lo, hi = bootstrap_ratio_ci(sums, counts, cfg.n_boot, cfg.data.seed)
        bad = ~ok[layers].numpy()
        for a in (est, lo, hi):
            a[bad] = np.nan
        stats[r] = {"mean": est, "lo": lo, "hi": hi}
        per_example[r] = torch.tensor(sums / counts[:, None]).float()

    pb, pa = stats["base"]["mean"], stats["aligned"]["mean"]
    with np.errstate(invalid="ignore", divide="ignore"):
        for r in roles:
            stats[r]["normalized"] = (stats[r]["mean"] - pb) / (pa - pb)
    gap_l = gap[layers].numpy()
    check = float(np.nanmax(np.abs((pa - pb) - gap_l))) if in_sample and ok[layers].any() else None

    rows = []
    for j, l in enumerate(layers):
        for r in roles:
            s = stats[r]
            rows.append([l, r, s["mean"][j], s["lo"][j], s["hi"][j], s["normalized"][j], gap_l[j]])
    out.csv("layer_projection", ["layer", "model", "mean_projection", "ci95_lo", "ci95_hi", "normalized",
                                 "direction_norm"], rows)
    out.tensors("layer_projection", {"direction": direction, "layers": torch.tensor(layers),
                                     **{f"per_example.{r}": v for r, v in per_example.items()}},
                {"roles": roles})
    summary: dict[str, Any] = {
        "config": cfg, "models": {r: views[r].source for r in roles}, "layers": layers,
        "n_examples": len(proj_ex), "in_sample": in_sample, "directions_cache": str(dirs.path) if dirs.path else None,
        "direction_norm": gap_l, "zero_direction_layers": [l for l in layers if not bool(ok[l])],
        "gap_check_max_abs_err": check,
        "per_model": {r: {k: v for k, v in s.items()} for r, s in stats.items()},
    }
    if "finetuned" in stats:
        # where the fine-tuned model sits between base (0) and aligned (1), early vs deep layers
        for half, sel in (("early", lambda l: 0 < l <= L // 2), ("deep", lambda l: l > L // 2)):
            js = [j for j, l in enumerate(layers) if sel(l) and ok[l]]
            summary[f"finetuned_normalized_mean_{half}_half"] = (
                float(np.nanmean(stats["finetuned"]["normalized"][js])) if js else None)
    from . import _plots

    fig, axes = _plots.figure(11, 4.2, ncols=2)
    _plots.line_ci(layers, {r: (stats[r]["mean"], stats[r]["lo"], stats[r]["hi"]) for r in roles},
                   title=f"mean projection on the alignment direction\n({'+'.join(map(short_name, proj_specs))}, "
                         f"first {cfg.n_tokens} tokens, 95% CI)", xlabel="layer", ylabel="<h_l, d_l/|d_l|>", ax=axes[0, 0])
    nan = np.full(len(layers), np.nan)
    _plots.line_ci(layers, {r: (stats[r]["normalized"], nan, nan) for r in roles},
                   title="normalized: 0 = base, 1 = aligned", xlabel="layer", ylabel="(p - p_base)/(p_aligned - p_base)",
                   ax=axes[0, 1], hline=0.0)
    out.plot("layer_projection", fig)
    out.json("layer_projection", summary)
    return Result("layer-projection", out.root, summary, out.files)
