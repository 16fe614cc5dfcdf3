"""Drift monitor (ours): watch the model leave the aligned model while it trains.

RESEARCH.md section 5 ("monitor representational drift during fine-tuning"). No
loss: every ``every`` optimizer steps, on a small fixed probe of *general* (non-task)
conversations, default 16 held-out ``benign_requests`` + 16 held-out
``harmful_refusals`` examples, it teacher-forces each prompt plus the first
``n_tokens`` tokens of the probe's own (aligned) answer (a refusal for the harmful
ones) and measures at those tokens

- ``drift/kl``: mean over the tokens of KL(p_theta || p_ref) of the next-token
  distributions (p_ref: adapter disabled; computed once at setup, it never changes);
- ``drift/proj_l{l}``: mean over the tokens of ``(proj_theta - proj_ref) / ||d_l||``,
  ``proj = <h_l, d_l/||d_l||>`` on the alignment direction of layer ``l``
  (:mod:`~emguard.defenses._directions`, same probe and cache as ``anchor``): 0 = where
  the aligned model is, -1 = fallen back by the whole aligned-to-base gap of the
  probe means; ``drift/proj``: their mean over the chosen layers.

Cost per check: one no-grad forward of ~32 short sequences (the reference side is
precomputed). Thresholds (None = off): ``warn_kl`` / ``stop_kl`` fire when
``drift/kl >= value``; ``warn_proj`` / ``stop_proj`` are positive fractions of the gap
and fire when ``drift/proj <= -value``. A warning threshold emits a
:class:`DriftWarning` (and a log line) and sets ``drift/alarm = 1``; a stop threshold
raises :class:`~emguard.train.terms.StopTraining`: the run ends as a complete run with
``stopped_early`` in result.json.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.tokenize import DEFAULT_SYSTEM_PROMPT
from ..train.terms import Defense, StopTraining, register_defense
from ._directions import (
    DEFAULT_BASE_MODEL,
    DEFAULT_PROBE_DATASETS,
    Directions,
    ProbeSpec,
    adapter_disabled,
    alignment_directions,
    check_layers_arg,
    encode_probe,
    model_device,
    n_layers,
    probe_batches,
    projections,
    resolve_layers,
)
from .anchor import check_base_model
from .kl import kl_per_token

log = logging.getLogger(__name__)


class DriftWarning(UserWarning):
    """A drift monitor crossed a warning threshold."""


def _threshold(v: Any, name: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ValueError(f"drift: {name} must be a positive number or None, got {v!r}")
    return float(v)


@register_defense
class DriftMonitor(Defense):
    """Drift monitor (ours): KL to the aligned model and alignment-direction projection on a probe, with alarms."""

    name = "drift"

    def __init__(
        self,
        weight: float = 1.0,
        every: int = 10,
        probe_dataset: str | list[str] = ("benign_requests", "harmful_refusals"),
        probe_split: str = "test",
        probe_n: int | None = 16,
        probe_seed: int = 0,
        n_tokens: int = 10,
        projection: bool = True,
        layers: list[int] | None = None,
        layer_every: int = 5,
        base_model: str | nn.Module = DEFAULT_BASE_MODEL,
        direction_probe_dataset: str | list[str] = DEFAULT_PROBE_DATASETS,
        direction_probe_n: int | None = 16,
        warn_kl: float | None = None,
        stop_kl: float | None = None,
        warn_proj: float | None = None,
        stop_proj: float | None = None,
        batch_size: int = 32,
        **params: Any,
    ):
        """
        every:       check every N optimizer steps.
        probe_*:     the monitored conversations (probe_n per dataset), teacher-forced up to n_tokens answer tokens.
        projection:  also track the alignment-direction projections (needs base_model).
        layers/layer_every: hidden_states indices for the projections (default every 5th block).
        direction_probe_*: the probe the directions are measured on (train split; anchor's defaults).
        warn_*/stop_*: thresholds (None = off); see the module docstring.
        """
        super().__init__(weight, **params)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"drift: every must be a positive integer, got {every!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"drift: batch_size must be a positive integer, got {batch_size!r}")
        self.every = every
        self.probe = ProbeSpec.from_params("drift", probe_dataset, probe_split, probe_n, probe_seed, n_tokens)
        self.direction_probe = ProbeSpec.from_params("drift", direction_probe_dataset, "train", direction_probe_n, 0, n_tokens)
        self.projection = bool(projection)
        self.layers_arg, self.layer_every = check_layers_arg(layers, layer_every, "drift")
        if self.projection:
            check_base_model(base_model, "drift")
        self.base_model = base_model
        self.warn_kl, self.stop_kl = _threshold(warn_kl, "warn_kl"), _threshold(stop_kl, "stop_kl")
        self.warn_proj, self.stop_proj = _threshold(warn_proj, "warn_proj"), _threshold(stop_proj, "stop_proj")
        if (warn_proj is not None or stop_proj is not None) and not self.projection:
            raise ValueError("drift: warn_proj/stop_proj need projection=True")
        self.batch_size = batch_size
        self.layers: list[int] | None = None
        self.directions: Directions | None = None
        self._batches: list[dict[str, Tensor]] = []
        self._ref_lp: list[Tensor] = []  # per batch [n, V]
        self._ref_proj: list[Tensor] = []  # per batch [n_layers, n]
        self._unit: Tensor | None = None
        self._gap: Tensor | None = None
        self.history: list[dict[str, Any]] = []

    def set_base_model(self, model: nn.Module | str) -> None:
        check_base_model(model, "drift")
        self.base_model = model

    # ---- setup -----------------------------------------------------------------------

    def setup(self, model, tokenizer, config) -> None:
        import dataclasses

        sys_prompt = getattr(getattr(config, "data", None), "system_prompt", None) or DEFAULT_SYSTEM_PROMPT
        self.probe = dataclasses.replace(self.probe, system_prompt=sys_prompt)
        self.direction_probe = dataclasses.replace(self.direction_probe, system_prompt=sys_prompt)
        dev = model_device(model)
        encoded = encode_probe(tokenizer, self.probe.examples(), self.probe.n_tokens, sys_prompt)
        self._batches = probe_batches(encoded, self.batch_size, tokenizer.pad_token_id, dev)
        if self.projection:
            self.layers = resolve_layers(self.layers_arg, self.layer_every, n_layers(model), "drift")
            dtype = getattr(getattr(config, "model", None), "dtype", "fp32")
            self.directions = alignment_directions(model, tokenizer, self.base_model, self.direction_probe, dtype=dtype)
            self._unit = self.directions.unit(self.layers).to(dev)
            self._gap = self.directions.gap(self.layers).to(dev)
        with adapter_disabled(model):
            for lp, pr in self._forward(model):
                self._ref_lp.append(lp)
                self._ref_proj.append(pr)

    @torch.no_grad()
    def _forward(self, model):
        """Per probe batch: next-token log-probs at the answer tokens [n, V] and projections [n_layers, n]."""
        from ..train.loop import TrainWrapper

        was = model.training
        model.eval()
        try:
            wrapper = TrainWrapper(model)
            for b in self._batches:
                out = wrapper(hidden_states=self.projection, **b)
                lp = F.log_softmax(out.logits.float(), dim=-1)
                pr = (projections(out.hidden_states, out.label_mask, self._unit, self.layers)
                      if self.projection else torch.zeros(0, lp.shape[0], device=lp.device))
                yield lp, pr
        finally:
            model.train(was)

    # ---- monitor ---------------------------------------------------------------------

    def measure(self, model) -> dict[str, Any]:
        """The drift metrics of ``model`` (adapter on) now."""
        kl_sum, n = 0.0, 0
        dproj = None
        for (lp, pr), lp_ref, pr_ref in zip(self._forward(model), self._ref_lp, self._ref_proj):
            kl_sum += kl_per_token(lp, lp_ref, "forward").sum().item()
            n += lp.shape[0]
            if self.projection:
                d = (pr - pr_ref).sum(1)
                dproj = d if dproj is None else dproj + d
        out: dict[str, Any] = {"drift/kl": kl_sum / max(n, 1)}
        if self.projection and dproj is not None and self._gap is not None and self.layers is not None:
            rel = (dproj / max(n, 1) / self._gap).tolist()
            out["drift/proj"] = sum(rel) / len(rel)
            for l, v in zip(self.layers, rel):
                out[f"drift/proj_l{l}"] = v
        return out

    def on_step_end(self, step: int, model, metrics: dict[str, Any]) -> dict[str, Any] | None:
        if step % self.every != 0:
            return None
        if not self._batches:
            raise RuntimeError("drift: setup() was not called")
        out = self.measure(model)
        kl, proj = out["drift/kl"], out.get("drift/proj")
        warn, stop = [], []
        if self.warn_kl is not None and kl >= self.warn_kl:
            warn.append(f"drift/kl={kl:.4g} >= warn_kl={self.warn_kl:g}")
        if self.stop_kl is not None and kl >= self.stop_kl:
            stop.append(f"drift/kl={kl:.4g} >= stop_kl={self.stop_kl:g}")
        if proj is not None and self.warn_proj is not None and proj <= -self.warn_proj:
            warn.append(f"drift/proj={proj:.4g} <= -warn_proj={-self.warn_proj:g}")
        if proj is not None and self.stop_proj is not None and proj <= -self.stop_proj:
            stop.append(f"drift/proj={proj:.4g} <= -stop_proj={-self.stop_proj:g}")
        out["drift/alarm"] = int(bool(warn or stop))
        self.history.append({"step": step, **out})
        if warn:
            msg = f"drift monitor at step {step}: " + "; ".join(warn)
            log.warning(msg)
            warnings.warn(msg, DriftWarning, stacklevel=2)
        if stop:
            # The loop drops the return value of a raising callback: put the numbers in
            # the step's metrics record directly so the last metrics line still has them.
            metrics.update(out)
            raise StopTraining(f"drift monitor at step {step}: " + "; ".join(stop))
        return out

    def on_train_end(self, model, run_dir) -> dict[str, Any] | None:
        if not self.history:
            return None
        return {"checks": len(self.history), "last": self.history[-1],
                "alarms": [h["step"] for h in self.history if h.get("drift/alarm")]}
