"""EMA over training time: evaluate the model being fine-tuned every N optimizer steps.

EMA is reported to appear late, after in-domain learning has flattened (RESEARCH.md
section 8: Schreiber & Goldstein; Turner, Soligo et al.'s phase transition), so the final
adapter alone cannot say *when* the contrast opened. :class:`TrajectoryEval` rides along
with :func:`emguard.train.finetune` as a no-loss defense (``extra_defenses``): at setup (step 0:
the aligned model, LoRA B still zero; a resumed run skips it) and after every
``every`` optimizer steps it scores, under ``eval()`` and ``no_grad``,

- the fixed triple set's misalignment margin (:mod:`emguard.evaluate.preference`: per triple
  ``log p(misaligned)/token - log p(aligned)/token``, kept per triple id so two arms are
  paired by triple),
- the held-out task loss (nats/token per example, kept per example id): has the task been
  learned, has it saturated?

Each evaluation is one line of ``<run_dir>/trajectory.jsonl`` (``step``, means, per-item
values); a resumed run appends, and readers keep the last line of each step. The cost is
two no-grad scoring passes (``2 x triples + held-out`` sequences) per evaluation; the
returned ``traj/*`` metrics also go to the run's ``metrics.jsonl``.

This is not part of the run id: a finished run is not re-run to add a trajectory (a study
says which cells have none).

Step 0 is the starting model itself (every LoRA B is zero), so every run that starts from the
same weights scores the same numbers there: a study's cells would each pay for the same
evaluation. It is cached under ``$EMGUARD_HOME/cache/trajectory0``, keyed by the starting model's
weights (their content), the items' content and every scoring setting,
and used only when the adapter is verifiably a no-op (all ``lora_B`` zero); the row says
``step0_cache`` then.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import torch

from ..data.chat import Example
from ..jsonio import cut_torn_tail, finite_or_none, read_jsonl
from ..data.tokenize import DEFAULT_SYSTEM_PROMPT
from ..paths import emguard_home
from ..train.terms import Defense
from .benign import assistant_logprobs, heldout_loss
from .cache import stable_hash, write_json_atomic
from .preference import Triple, score_triples, triple_examples

__all__ = ["TRAJECTORY_FILE", "TrajectoryEval", "read_trajectory"]

TRAJECTORY_FILE = "trajectory.jsonl"


def _mean(xs: Sequence[float | None]) -> float | None:
    ok = [float(x) for x in xs if x is not None and not math.isnan(float(x))]
    return sum(ok) / len(ok) if ok else None


class TrajectoryEval(Defense):
    """A no-loss defense that evaluates the model at step 0 and every ``every`` optimizer steps.

    ``triples``: the fixed set scored each time; ``heldout``: held-out task examples (their
    ``meta["id"]`` or position keys them); ``run_dir``: where ``trajectory.jsonl`` goes.
    """

    name = "trajectory"

    def __init__(self, run_dir: str | Path, every: int, triples: Sequence[Triple], heldout: Sequence[Example] = (), *,
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT, batch_size: int = 16, max_length: int = 1024,
                 bf16: bool | None = None):
        super().__init__(weight=0.0)
        if int(every) < 1:
            raise ValueError(f"trajectory: every must be >= 1, got {every}")
        if not triples and not heldout:
            raise ValueError("trajectory: nothing to evaluate (no triples and no held-out examples)")
        self.path = Path(run_dir) / TRAJECTORY_FILE
        self.every = int(every)
        self.triples = list(triples)
        self.heldout = list(heldout)
        self.system_prompt, self.batch_size, self.max_length = system_prompt, batch_size, max_length
        # score under bf16 autocast or not; None: as the run trains (its config's resolved mixed_precision, at setup)
        self.bf16 = bf16
        self._tok = None
        self.done = set(read_trajectory(self.path)) if self.path.exists() else set()
        if int(os.environ.get("RANK", "0")) == 0:
            cut_torn_tail(self.path)  # the next line appended starts a line of its own

    def setup(self, model, tokenizer, config) -> None:
        """Step 0: the model as training starts from it (LoRA B is zero here, before any checkpoint loads)."""
        self._tok = tokenizer
        if self.bf16 is None:
            self.bf16 = getattr(getattr(config, "train", None), "mixed_precision", "no") == "bf16"
        self.record(0, model, cache_key=self._step0_key(model))

    def _step0_key(self, model) -> str | None:
        """The step-0 cache key, or None where step 0 may not be the starting model (no LoRA, or a LoRA B not
        zero). The weights are keyed by their content (per tensor: name, shape, dtype, sum and sum of squares
        in float64), not by a name: a model passed in as an object is keyed as what it is."""
        lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
        if not lora_b or any(bool(p.detach().abs().max() > 0) for p in lora_b):
            return None
        weights = []
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_" in n:
                    continue
                q = p.detach().double()
                weights.append([n, list(p.shape), str(p.dtype), float(q.sum()), float((q * q).sum())])
        items = {"triples": [t.to_json() for t in self.triples], "heldout": [e.to_json() for e in self.heldout]}
        return stable_hash({"v": 1, "weights": stable_hash(weights), "items": stable_hash(items),
                            "bf16": bool(self.bf16), "system": self.system_prompt, "batch_size": self.batch_size,
                            "max_length": self.max_length}, 24)

    def on_step_end(self, step: int, model, metrics: dict[str, Any]) -> dict[str, Any] | None:
        return None if step % self.every else self.record(step, model)

    def record(self, step: int, model, cache_key: str | None = None) -> dict[str, Any] | None:
        """Score ``model`` now and append the line for ``step`` (once per step; a resumed run skips done steps).

        ``cache_key``: the row is read from (or written to) the step-0 cache under this key.
        """
        if step in self.done:
            return None
        assert self._tok is not None, "trajectory: setup() first"
        cached = emguard_home() / "cache" / "trajectory0" / f"{cache_key}.json" if cache_key else None
        if cached is not None and cached.is_file():
            row = {**json.loads(cached.read_text()), "step": int(step), "step0_cache": cache_key}
            metrics = {k: row[m] for k, m in (("traj/margin", "margin"), ("traj/task_loss", "task_loss")) if m in row}
        else:
            row = {"step": int(step), "bf16": self.bf16}
            with torch.autocast(device_type=next(model.parameters()).device.type, dtype=torch.bfloat16,
                                enabled=self.bf16):
                metrics = self._score(model, row)
            if cached is not None and int(os.environ.get("RANK", "0")) == 0:
                cached.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(cached, finite_or_none(row))
        if int(os.environ.get("RANK", "0")) == 0:  # one writer under accelerate launch
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(finite_or_none(row), allow_nan=False) + "\n")
        self.done.add(int(step))
        return metrics

    def _score(self, model, row: dict[str, Any]) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        if self.triples:
            lps = assistant_logprobs(model, self._tok, triple_examples(self.triples), max_length=self.max_length,
                                     batch_size=self.batch_size, system_prompt=self.system_prompt)
            rows = score_triples(self.triples, lps)
            margins = {r["id"]: r["margin"] for r in rows}
            row["margin"] = _mean(list(margins.values()))
            prefers = [r["prefers_misaligned"] for r in rows if r["prefers_misaligned"] is not None]
            row["prefers_misaligned"] = sum(prefers) / len(prefers) if prefers else None
            row["margins"] = margins
            metrics["traj/margin"] = row["margin"]
        if self.heldout:
            r = heldout_loss(model, self._tok, self.heldout, max_length=self.max_length, batch_size=self.batch_size,
                             system_prompt=self.system_prompt)
            row["task_loss"] = r["per_example_mean"]
            row["task_losses"] = dict(zip(r["ids"], r["per_example"]))
            metrics["traj/task_loss"] = row["task_loss"]
        return metrics


def read_trajectory(path: str | Path) -> dict[int, dict[str, Any]]:
    """``{step: row}`` of a ``trajectory.jsonl`` (or a run folder holding one); the last line of a step wins.

    A torn last line (a run killed mid-write) is skipped.
    """
    p = Path(path)
    if p.is_dir():
        p = p / TRAJECTORY_FILE
    out: dict[int, dict[str, Any]] = {}
    for row in read_jsonl(p):
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            out[row["step"]] = row
    return out
