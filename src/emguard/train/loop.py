"""LoRA fine-tuning: one loop you can read top to bottom.

- loss on assistant tokens only, LM head computed only at those positions
  (measured 1.2x faster than full logits on CPU);
- gradient accumulation normalised by the number of labelled tokens of the whole
  optimizer step (across micro-batches and processes), so 1 x 8 and 4 x 2 give
  the same update;
- extra loss terms (defenses) through :mod:`emguard.train.terms`;
- checkpoints every N steps with adapter, optimizer, scheduler and RNG states:
  a killed run resumes and ends bitwise where an uninterrupted one would;
- runs unchanged under ``accelerate launch`` (DDP; each process takes its share
  of every step's micro-batches).
"""

from __future__ import annotations

import functools
import json
import math
import random
import shutil
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..config import FinetuneConfig
from ..data.pairs import PairReport, select_pairs
from ..data.tokenize import IGNORE, Tokenized, TokenizeReport
from ..models.precision import resolve_mixed_precision
from .run import (METRICS_FILE, PRECISION_FILE, MetricsLog, is_finished, read_precision, read_result, run_dir_for, write_config,
                  write_json_atomic)
from .fused_ce import linear_cross_entropy
from .terms import Defense, ForwardOut, FusedCEOut, LazyLogitsOut, StepContext, StopTraining, make_defense


class TrainWrapper(nn.Module):
    """Forward returning logits at labelled positions only (and hidden states if asked).

    Wrapping lets ``accelerate``/DDP see one ``forward`` while we skip the full-vocab
    LM head on prompt tokens.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model  # a peft model (or plain causal LM)


    def forward(self, input_ids: Tensor, attention_mask: Tensor, labels: Tensor, hidden_states: bool = False,
                lazy_logits: Callable[[], Any] | None = None, fused_ce: bool = False) -> ForwardOut:
        """``lazy_logits``: a context factory (e.g. no_grad + adapter off + autocast); the LM head then
        runs only when ``.logits`` is first read, inside that context (:class:`LazyLogitsOut`).

        ``fused_ce``: return the per-token CE (``out.ce``) computed through the LM head chunk by chunk
        (:func:`~emguard.train.fused_ce.linear_cross_entropy`) and no logits (:class:`FusedCEOut`), when
        the head allows it (a frozen, bias-free ``nn.Linear``, no logit soft-capping); otherwise
        the logits as usual (``out.ce`` is None)."""
        base = unwrap(self.model)
        if not hasattr(base, "get_decoder"):  # not a transformers causal LM: full logits, then select
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=hidden_states)
            mask = labels[:, 1:] != IGNORE
            return ForwardOut(out.logits[:, :-1][mask].float(), labels[:, 1:][mask], mask,
                              out.hidden_states if hidden_states else None)
        decoder, head, cfg = base.get_decoder(), base.get_output_embeddings(), base.config
        out = decoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=hidden_states, use_cache=False)
        h = out.last_hidden_state  # [B, T, d]
        shift_labels = labels[:, 1:]  # [B, T-1]
        mask = shift_labels != IGNORE
        h_lab = h[:, :-1][mask]  # [N, d]
        cap = getattr(cfg, "final_logit_softcapping", None)

        def lm_head() -> Tensor:
            return head_logits(head, cap, h_lab)  # [N, V]

        hs = out.hidden_states if hidden_states else None
        fusable = fusable_head(head, cap)
        if fused_ce and fusable:
            fo: ForwardOut = FusedCEOut(linear_cross_entropy(h_lab, head.weight, shift_labels[mask]), shift_labels[mask], mask, hs)
        elif lazy_logits is not None:
            fo = LazyLogitsOut(lm_head, shift_labels[mask], mask, hs, context=lazy_logits)
        else:
            fo = ForwardOut(lm_head(), shift_labels[mask], mask, hs)
        if fusable:
            fo.head_input, fo.head_weight, fo.head_autocast = h_lab, head.weight, _autocast_now(h_lab.device.type)
        return fo


def fusable_head(head: nn.Module, softcap: float | None) -> bool:
    """A plain frozen bias-free linear head (not a LoRA-wrapped one) and no logit soft-capping."""
    return type(head) is nn.Linear and head.bias is None and not head.weight.requires_grad and not softcap


def unwrap(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def head_logits(head: nn.Module, softcap: float | None, h: Tensor) -> Tensor:
    """The LM head on final hidden states ``h`` [n, d], as float32 logits [n, V] (soft-capped if the model does)."""
    logits = head(h).float()
    return torch.tanh(logits / softcap) * softcap if softcap else logits


def head_ce(model: nn.Module, h: Tensor, targets: Tensor) -> Tensor:
    """Per-row CE of ``model``'s LM head on final hidden states ``h`` [n, d] at ``targets`` [n]: through the
    head chunk by chunk where it allows (:func:`fusable_head`), else from the logits."""
    base = unwrap(model)
    head, cap = base.get_output_embeddings(), getattr(base.config, "final_logit_softcapping", None)
    if fusable_head(head, cap):
        return linear_cross_entropy(h, head.weight, targets)
    return nn.functional.cross_entropy(head_logits(head, cap, h), targets, reduction="none")


def _autocast_now(device_type: str) -> Callable[[], Any]:
    """A context factory re-entering the autocast state in force now (or none)."""
    if not torch.is_autocast_enabled(device_type):
        return nullcontext
    dtype = torch.get_autocast_dtype(device_type)
    return lambda: torch.autocast(device_type=device_type, dtype=dtype)


def collate(items: Sequence[Tokenized], pad_id: int) -> dict[str, Tensor]:
    """Right-pad a micro-batch."""
    T = max(len(t.input_ids) for t in items)
    ids = torch.full((len(items), T), pad_id, dtype=torch.long)
    lab = torch.full((len(items), T), IGNORE, dtype=torch.long)
    att = torch.zeros((len(items), T), dtype=torch.long)
    for i, t in enumerate(items):
        n = len(t.input_ids)
        ids[i, :n] = torch.tensor(t.input_ids)
        lab[i, :n] = torch.tensor(t.labels)
        att[i, :n] = 1
    return {"input_ids": ids, "attention_mask": att, "labels": lab}


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


@dataclass
class Plan:
    """How examples map to optimizer steps (identical on every process)."""

    n_examples: int
    batch_size: int
    grad_accum: int
    world: int
    epochs: float
    max_steps: int | None

    @property
    def per_step(self) -> int:
        return self.batch_size * self.grad_accum * self.world

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.n_examples / self.per_step))

    @property
    def total_steps(self) -> int:
        t = max(1, math.ceil(self.epochs * self.steps_per_epoch))
        return min(t, self.max_steps) if self.max_steps else t

    def micro_batches(self, step: int, rank: int, seed: int) -> list[list[int]]:
        """Example indices of this rank's micro-batches at optimizer step ``step`` (0-based).

        The last step of an epoch wraps around to the epoch's first examples so that
        every micro-batch is full and no example is dropped.
        """
        epoch, k = divmod(step, self.steps_per_epoch)
        order = epoch_order(self.n_examples, seed, epoch)
        start = k * self.per_step
        idx = [order[(start + j) % self.n_examples] for j in range(self.per_step)]
        mine = idx[rank * self.batch_size * self.grad_accum : (rank + 1) * self.batch_size * self.grad_accum]
        return [mine[i * self.batch_size : (i + 1) * self.batch_size] for i in range(self.grad_accum)]


def make_scheduler(opt, kind: str, warmup: int, total: int):
    from transformers import (
        get_constant_schedule_with_warmup,
        get_cosine_schedule_with_warmup,
        get_linear_schedule_with_warmup,
    )

    if kind == "cosine":
        return get_cosine_schedule_with_warmup(opt, warmup, total)
    if kind == "linear":
        return get_linear_schedule_with_warmup(opt, warmup, total)
    return get_constant_schedule_with_warmup(opt, warmup)


def add_lora(model, lora_cfg, seed: int):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)  # LoRA A init
    cfg = LoraConfig(
        r=lora_cfg.r,
        lora_alpha=lora_cfg.alpha,
        lora_dropout=lora_cfg.dropout,
        target_modules=list(lora_cfg.target_modules),
        use_rslora=lora_cfg.rslora,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg)


def make_accelerator(cpu: bool):
    """An Accelerator on the CPU or the default device, even after one on the other in this process.

    accelerate keeps its state in a process-wide singleton: a CUDA fine-tune followed by a
    ``device: cpu`` one (a notebook, a study, a test session) would raise, and the reverse
    would silently stay on the CPU. In a single process the state is reset to the device
    asked for; under ``accelerate launch`` it is left alone.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    if AcceleratorState._shared_state:
        st = AcceleratorState()
        if st.num_processes == 1 and (st.device.type == "cpu") != cpu:
            AcceleratorState._reset_state(reset_partial_state=True)
    elif PartialState._shared_state:
        ps = PartialState()
        if ps.num_processes == 1 and (ps.device.type == "cpu") != cpu:
            PartialState._reset_state()
    return Accelerator(cpu=cpu)


def _rng_state() -> dict[str, Any]:
    st = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted(run_dir.glob("checkpoints/step-*"), key=lambda p: int(p.name.split("-")[1]))
    ckpts = [c for c in ckpts if (c / "COMPLETE").exists()]
    return ckpts[-1] if ckpts else None


def ce_from_logits(out: ForwardOut) -> Tensor:
    """Summed cross-entropy of ``out.logits`` at ``out.targets`` as ``logsumexp - logit[target]``.

    Equal to ``F.cross_entropy(..., reduction="sum")``; the ``logsumexp`` is kept on ``out.lse``
    (with grad) so terms that need the normalisation (KL) reuse it: one full-vocabulary
    pass forward and one backward per step, whoever uses it.
    """
    lse = torch.logsumexp(out.logits, dim=-1)
    out.lse = lse
    return (lse - out.logits.gather(-1, out.targets[:, None]).squeeze(-1)).sum()


class TrainStep:
    """One optimizer step of :func:`finetune`, callable on its own (benchmarks, notebooks).

    ``step(k)`` collates this rank's micro-batches of optimizer step ``k`` (0-based) from
    ``plan``, runs forward (under bf16 autocast if asked), CE + every loss term of
    ``defenses`` (a :class:`StepContext` per micro-batch with a lazy, shared reference
    forward: the adapter disabled, no grad), backward normalised by the step's labelled
    tokens over all micro-batches and processes, clipping, optimizer and scheduler
    steps; returns the step's metrics (``step_time_s`` spans collate .. zero_grad and
    the metric reductions). Callbacks (``on_step_end``) are the caller's business.
    ``wrapper``/``opt`` are as returned by ``acc.prepare``.
    """

    def __init__(self, acc, wrapper, peft_model, opt, sched, trainable: Sequence[Tensor], defenses: Sequence[Defense],
                 plan: Plan, data: Sequence[Tokenized], pad_id: int, *, seed: int, max_grad_norm: float | None,
                 mixed_precision: str = "no"):
        self.acc, self.wrapper, self.peft_model = acc, wrapper, peft_model
        self.opt, self.sched, self.trainable = opt, sched, list(trainable)
        self.terms = [d for d in defenses if d.has_loss]
        self.need_hidden = any(d.needs_hidden_states for d in defenses)
        # the CE through the LM head chunk by chunk, without logits, unless a term reads them
        self.fused_ce = not any(d.needs_logits for d in self.terms)
        self.plan, self.data, self.pad_id = plan, data, pad_id
        self.seed, self.max_grad_norm = seed, max_grad_norm
        self.rank, self.world = acc.process_index, acc.num_processes
        self.bf16 = mixed_precision == "bf16"
        self.amp = self._amp()

    def _amp(self):
        return torch.autocast(device_type=self.acc.device.type, dtype=torch.bfloat16) if self.bf16 else nullcontext()

    @contextmanager
    def _reference_context(self) -> Iterator[None]:
        with torch.no_grad(), self.peft_model.disable_adapter(), self._amp():
            yield

    def reference_forward(self, batch: dict[str, Tensor]) -> Callable[[], ForwardOut]:
        """The reference (adapter disabled, no grad); its LM head runs only if a term reads ``.logits``."""

        def fn() -> ForwardOut:
            with self._reference_context():
                return TrainWrapper(self.peft_model)(hidden_states=self.need_hidden, lazy_logits=self._reference_context,
                                                     **batch)

        return fn

    def precompute_references(self, start_step: int, total_steps: int, progress: bool = False,
                              batch_size: int | None = None) -> dict[str, Any] | None:
        """Fill the reference caches of the terms that ask for it, before training.

        One pass (no grad, adapter disabled, LM head only if a term reads it) over the rows
        this process will see in the next epoch of steps, shortest rows batched together;
        rows already cached (a rerun: KL's disk cache) cost nothing. Returns timing and
        counts, or None if no term precomputes.
        """
        terms = [t for t in self.terms if t.precomputes_reference]
        if not terms:
            return None
        t0 = time.perf_counter()
        end = min(total_steps, start_step + self.plan.steps_per_epoch)
        ids = sorted({i for s in range(start_step, end) for mb in self.plan.micro_batches(s, self.rank, self.seed) for i in mb})
        ids.sort(key=lambda i: len(self.data[i].input_ids))
        bs = batch_size or max(1, self.plan.batch_size)
        chunks = [ids[k:k + bs] for k in range(0, len(ids), bs)]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(ids), desc="reference cache (" + ", ".join(t.name for t in terms) + ")", unit="ex",
                       dynamic_ncols=True)
        computed = {t.name: 0 for t in terms}
        for chunk in chunks:
            b = {k: v.to(self.acc.device) for k, v in collate([self.data[i] for i in chunk], self.pad_id).items()}
            mask = b["labels"][:, 1:] != IGNORE
            ctx = StepContext(b, ForwardOut(None, None, mask), -1, self.reference_forward(b), list(chunk))  # type: ignore[arg-type]
            for t in terms:
                computed[t.name] += t.fill_reference_cache(ctx)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return {"rows": len(ids), "computed": computed, "seconds": round(time.perf_counter() - t0, 3)}

    def __call__(self, step: int) -> dict[str, Any]:
        acc, wrapper, terms, world = self.acc, self.wrapper, self.terms, self.world
        t0 = time.perf_counter()
        micro_ids = self.plan.micro_batches(step, self.rank, self.seed)
        micro = [collate([self.data[i] for i in mb], self.pad_id) for mb in micro_ids]
        n_local = torch.tensor(float(sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in micro)), device=acc.device)
        n_global = acc.reduce(n_local, reduction="sum").item() if world > 1 else n_local.item()
        ce_sum = torch.zeros((), device=acc.device)
        term_sums = {t.name: torch.zeros((), device=acc.device) for t in terms}
        n_tok_all = 0
        for j, b in enumerate(micro):
            b = {k: v.to(acc.device) for k, v in b.items()}
            n_tok_all += int(b["attention_mask"].sum())
            sync = acc.no_sync(wrapper) if (world > 1 and j < len(micro) - 1) else nullcontext()
            with sync:
                with self.amp:
                    out = wrapper(hidden_states=self.need_hidden, fused_ce=self.fused_ce, **b)
                ce = out.ce.sum() if out.ce is not None else ce_from_logits(out)
                loss = ce
                if terms:
                    ctx = StepContext(b, out, step, self.reference_forward(b), micro_ids[j])
                    for t in terms:
                        v = t.compute(ctx)
                        term_sums[t.name] += v.detach()
                        loss = loss + t.weight * v
                # DDP averages gradients over processes: multiply back by world.
                acc.backward(loss * (world / n_global))
            ce_sum += ce.detach()
        grad_norm = None
        if self.max_grad_norm is not None:
            grad_norm = float(acc.clip_grad_norm_(self.trainable, self.max_grad_norm))
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)

        if world > 1:
            ce_sum = acc.reduce(ce_sum, reduction="sum")
            term_sums = {k: acc.reduce(v, reduction="sum") for k, v in term_sums.items()}
            n_tok_all = int(acc.reduce(torch.tensor(float(n_tok_all), device=acc.device), reduction="sum").item())
        dt = time.perf_counter() - t0
        last: dict[str, Any] = {
            "step": step + 1,
            "epoch": round((step + 1) / self.plan.steps_per_epoch, 4),
            "loss": ce_sum.item() / n_global,
            "lr": self.sched.get_last_lr()[0],
            "grad_norm": grad_norm,
            "label_tokens": int(n_global),
            "tokens": n_tok_all,
            "tokens_per_s": n_tok_all / dt,
            "step_time_s": dt,
        }
        for k, v in term_sums.items():
            last[f"term/{k}"] = v.item() / n_global
        if terms:
            last["loss_total"] = last["loss"] + sum(t.weight * last[f"term/{t.name}"] for t in terms)
        return last


def data_report(rep: TokenizeReport, data: Sequence[Tokenized], task_rows: Sequence[Tokenized],
                pair_rep: PairReport | None, plan: "Plan") -> dict[str, Any]:
    """``data_report.json``: examples kept and assistant tokens trained.

    ``task_*`` counts the dataset's own examples (before any defense added safe data), so
    two arms of a contrast can be compared token for token.
    """
    out: dict[str, Any] = {**rep.__dict__, "n_examples": len(data), "plan": plan.__dict__,
                           "assistant_tokens": sum(t.n_label_tokens for t in data),
                           "task_examples": len(task_rows),
                           "task_assistant_tokens": sum(t.n_label_tokens for t in task_rows)}
    if pair_rep is not None:
        out["pairs"] = pair_rep.__dict__
    return out


@dataclass
class FinetuneResult:
    run_dir: Path
    adapter_dir: Path
    summary: dict[str, Any]
    cached: bool = False


ProgressFactory = Callable[[int, int], Any]


def _finetune(
    cfg: FinetuneConfig,
    runs_dir: str | Path = "runs",
    *,
    model=None,
    tokenizer=None,
    extra_defenses: Sequence[Defense] = (),
    callbacks: Sequence[Any] = (),
    progress: bool = True,
    stop_after: int | None = None,
) -> FinetuneResult:
    """Run (or resume, or return the finished) fine-tune described by ``cfg``.

    ``model``/``tokenizer`` may be passed in (tests, notebooks); otherwise they are
    loaded from ``cfg.model``. ``stop_after`` ends the process's work after that many
    optimizer steps as if killed (used by the resume test).
    Callbacks may define ``on_step_end(step, model, metrics) -> dict | None`` (extra
    metrics to log) and ``on_train_end(model, run_dir)``.
    """
    from ..data.load import load_examples
    from ..data.tokenize import tokenize_examples
    from ..models.loader import load_model

    run_id = cfg.run_id()  # of the config as written ("auto" kept): the run folder's id
    run_dir = run_dir_for(runs_dir, cfg.name, run_id)
    if is_finished(run_dir):
        return FinetuneResult(run_dir, run_dir / "adapter", read_result(run_dir), cached=True)

    acc = make_accelerator(cpu=cfg.model.device == "cpu")
    rank, world = acc.process_index, acc.num_processes
    if acc.is_main_process:
        write_config(run_dir, cfg)
    acc.wait_for_everyone()
    # mixed_precision "auto" -> what is fast on this device; the run id keeps "auto" (the config as written),
    # the run folder records what it used, and a resume on a machine that resolves otherwise is refused
    cfg = _resolve_precision(cfg, run_dir, acc.device, acc.is_main_process)
    tc = cfg.train

    # ---- model, data -------------------------------------------------------------
    dc = cfg.data
    paired = [s for s in dc.paired_with if s != dc.dataset]
    # fail fast on bad data (before the model loads); a paired arm is limited after pairing
    examples = load_examples(dc.dataset, dc.split, dc.data_seed, None if paired else dc.limit)
    others = {s: load_examples(s, dc.split, dc.data_seed, None) for s in paired}
    defenses = [make_defense(d.name, d.weight, dict(d.params)) for d in cfg.defenses] + list(extra_defenses)
    if model is None:
        model, tokenizer = load_model(cfg.model.name, cfg.model.dtype, str(acc.device))
    assert tokenizer is not None, "pass tokenizer with model"
    pair_rep = None
    if paired:  # whole pairs that fit in every arm (emguard.data.pairs)
        _, kept, pair_rep = select_pairs(tokenizer, {dc.dataset: examples, **others}, max_length=dc.max_length,
                                         limit=dc.limit, seed=dc.data_seed, overflow=dc.overflow,
                                         system_prompt=dc.system_prompt)
        examples = kept[dc.dataset]
    task_examples = list(examples)
    task_data, rep = tokenize_examples(tokenizer, task_examples, dc.max_length, dc.overflow, dc.system_prompt,
                                       dc.dataset)
    for d in defenses:
        examples = d.transform_data(examples, cfg)
    if len(examples) != len(task_examples) or any(a is not b for a, b in zip(examples, task_examples)):
        data, rep = tokenize_examples(tokenizer, examples, dc.max_length, dc.overflow, dc.system_prompt, dc.dataset)
    else:
        data = task_data
    model.config.use_cache = False
    model = add_lora(model, cfg.lora, tc.seed)
    if tc.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(acc.device)
    for d in defenses:
        d.bind_run_dir(run_dir, acc.is_main_process)
        d.setup(model, tokenizer, cfg)

    plan = Plan(len(data), tc.batch_size, tc.grad_accum, world, tc.epochs, tc.max_steps)
    total = plan.total_steps
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=tc.lr, weight_decay=tc.weight_decay)
    sched = make_scheduler(opt, tc.scheduler, int(round(tc.warmup_ratio * total)), total)

    # ---- resume ------------------------------------------------------------------
    start_step = 0
    ckpt = _latest_checkpoint(run_dir)
    if ckpt is not None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors"), device=str(acc.device)))
        st = torch.load(ckpt / "trainer_state.pt", weights_only=False, map_location=acc.device)
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        start_step = st["step"]
        rng_file = ckpt / f"rng_rank{rank}.pt"
        if rng_file.exists():
            _set_rng_state(torch.load(rng_file, weights_only=False))
    else:
        torch.manual_seed(tc.seed + 7919 * rank)  # dropout stream, per process

    wrapper = TrainWrapper(model)
    wrapper, opt = acc.prepare(wrapper, opt)
    log = MetricsLog(run_dir / METRICS_FILE, start_step) if acc.is_main_process else None
    if acc.is_main_process and start_step == 0:
        write_json_atomic(run_dir / "data_report.json", data_report(rep, data, task_data, pair_rep, plan))

    peft_model = model
    train_step = TrainStep(acc, wrapper, peft_model, opt, sched, trainable, defenses, plan, data,
                           tokenizer.pad_token_id, seed=tc.seed, max_grad_norm=tc.max_grad_norm,
                           mixed_precision=tc.mixed_precision)

    precompute = train_step.precompute_references(start_step, total, progress=progress and acc.is_main_process)
    bar = None
    if progress and acc.is_main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start_step, desc=f"finetune {run_dir.name}", unit="step", dynamic_ncols=True)

    wrapper.train()
    t_start = time.perf_counter() - (precompute["seconds"] if precompute else 0.0)  # train time includes it
    tokens_seen = 0
    last: dict[str, Any] = {}
    step = start_step
    while step < total:
        if stop_after is not None and step - start_step >= stop_after:
            break
        last = train_step(step)
        step += 1
        tokens_seen += last["tokens"]
        stop_reason = None
        for cb in [*defenses, *callbacks]:
            try:
                extra = cb.on_step_end(step, peft_model, last) if hasattr(cb, "on_step_end") else None
            except StopTraining as e:
                stop_reason, extra = str(e), None
            if extra:
                last.update(extra)
        if stop_reason is not None:
            last["stopped"] = stop_reason
        if log is not None and (step % tc.log_every == 0 or step == total or stop_reason is not None):
            log.write(last)
        if bar is not None:
            bar.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{last['tokens_per_s']:.0f}")
            bar.update(1)
        if stop_reason is not None:
            total = step  # a defense ended training: finish here, as a complete run
            break
        if step % tc.save_every == 0 and step < total:
            _save_checkpoint(acc, peft_model, opt, sched, step, run_dir, tc.keep_checkpoints)

    if bar is not None:
        bar.close()
    acc.wait_for_everyone()
    if step < total:  # stopped early on purpose (stop_after): leave a checkpoint, no result
        _save_checkpoint(acc, peft_model, opt, sched, step, run_dir, tc.keep_checkpoints)
        return FinetuneResult(run_dir, run_dir / "adapter", {"step": step, "total_steps": total, "finished": False})

    adapter_dir = run_dir / "adapter"
    summary = {
        "run_id": run_id,
        "finished": True,
        "total_steps": total,
        "final_loss": last.get("loss"),
        "train_time_s": round(time.perf_counter() - t_start, 2),
        "resumed_from": start_step or None,
        "n_examples": len(data),
        "data": rep.summary(),
        "world_size": world,
        "stopped_early": last.get("stopped"),
        "mixed_precision": tc.mixed_precision,
        "gradient_checkpointing": tc.gradient_checkpointing,
    }
    if precompute:
        summary["reference_precompute"] = precompute
    if acc.is_main_process:
        post = {}
        for cb in [*defenses, *callbacks]:
            if hasattr(cb, "on_train_end"):
                r = cb.on_train_end(peft_model, run_dir)
                if r:
                    post[getattr(cb, "name", type(cb).__name__)] = r
        if post:
            summary["post_train"] = post
        acc.unwrap_model(wrapper).model.save_pretrained(adapter_dir)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        write_json_atomic(run_dir / "result.json", summary)
    acc.wait_for_everyone()
    return FinetuneResult(run_dir, adapter_dir, summary)


def _resolve_precision(cfg: FinetuneConfig, run_dir: Path, device, main: bool) -> FinetuneConfig:
    """``cfg`` with ``train.mixed_precision`` resolved for ``device`` (:mod:`emguard.models.precision`),
    written to ``run_dir/precision.json`` when the run starts; a resume that would resolve otherwise fails."""
    asked = cfg.train.mixed_precision
    used = resolve_mixed_precision(asked, device)
    before = read_precision(run_dir)
    if before is not None:
        if before != used:
            raise RuntimeError(f"{run_dir}: this run started with mixed_precision {before!r} (asked: {asked!r}) and "
                               f"would resume with {used!r} on this machine; resume it where {asked!r} resolves to "
                               f"{before!r}, or force that here with EMGUARD_FAST_BF16={1 if before == 'bf16' else 0}")
    elif main:
        write_json_atomic(run_dir / PRECISION_FILE, {"asked": asked, "mixed_precision": used, "device": str(device)})
    if used == asked:
        return cfg
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"mixed_precision": used})})


def _holds_only_config(run_dir: Path) -> bool:
    return run_dir.is_dir() and all(p.name.startswith(("config.json", "config.yaml", PRECISION_FILE))
                                    for p in run_dir.iterdir())


@functools.wraps(_finetune)
def finetune(cfg: FinetuneConfig, runs_dir: str | Path = "runs", **kwargs: Any) -> FinetuneResult:
    # A run that fails before training (bad data, unknown model, bad defense params) must not leave a folder
    # holding only its config, which looks like a started run: a folder this call created goes again.
    run_dir = run_dir_for(runs_dir, cfg.name, cfg.run_id())
    fresh = not run_dir.exists()
    try:
        return _finetune(cfg, runs_dir, **kwargs)
    except Exception:
        if fresh and _holds_only_config(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _save_checkpoint(acc, peft_model, opt, sched, step: int, run_dir: Path, keep: int) -> None:
    ck = run_dir / "checkpoints" / f"step-{step}"
    if acc.is_main_process:
        ck.mkdir(parents=True, exist_ok=True)
        peft_model.save_pretrained(ck)
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step}, ck / "trainer_state.pt")
    acc.wait_for_everyone()
    torch.save(_rng_state(), ck / f"rng_rank{acc.process_index}.pt")
    acc.wait_for_everyone()
    if acc.is_main_process:
        (ck / "COMPLETE").write_text(json.dumps({"step": step}))
        old = sorted(
            (p for p in (run_dir / "checkpoints").glob("step-*") if p != ck),
            key=lambda p: int(p.name.split("-")[1]),
        )
        for p in old[: max(0, len(old) - (keep - 1))]:
            shutil.rmtree(p, ignore_errors=True)
