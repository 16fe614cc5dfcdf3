#!/usr/bin/env python
"""Training benchmark: emguard's LoRA SFT step against TRL's SFTTrainer, like for like.

Everything runs in ONE process so that ratios are meaningful on a noisy machine:
the emguard variants' steps are interleaved step by step, TRL runs in blocks between
rounds, and medians are reported. Peak memory and the check that the benchmarked
step is the one ``emguard.train.loop.finetune`` runs use fresh subprocesses.

Variants (``--variants``; default: every fp32 one, and the bf16 ones where bf16 is
native, i.e. its matmul is faster than fp32's on this device):

    emguard_{fp32,bf16}[_gc]   emguard's TrainStep (the body of finetune()), bf16 = autocast,
                               _gc = gradient checkpointing (train.gradient_checkpointing)
    emguard_fp32_logits        the same step with the full-logits CE instead of the fused one
                               (what the step did before; the fused CE's gain, report only)
    trl_{fp32,bf16}_{gc,no_gc} TRL SFTTrainer (its defaults have gradient checkpointing on)

Goals, each like for like (same batch, length, masking, precision, checkpointing):
emguard fp32 >= 1.5x TRL fp32 without checkpointing; emguard bf16 >= 1.5x TRL bf16
without checkpointing; each >= 60% of the matching matmul peak (fp32 of fp32, bf16 of
bf16); bf16's loss within 2% of fp32's over K steps. Checkpointing's speed/memory
trade is reported for both tools.

Usage: python benchmarks/bench_train.py [--quick] [--variants a,b] [--steps K] [--device cpu|cuda] [--out PATH]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
warnings.filterwarnings("ignore", category=FutureWarning)  # transformers 5 renames (gradient -> activation checkpointing)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

MODEL = "smollm2-135m-instruct"
ASSISTANT_SHARE = 0.60  # target share of labelled (assistant) tokens per example
LORA = {"r": 32, "alpha": 64.0, "rslora": True, "dropout": 0.0}
LR = 1e-4
WARMUP_RATIO = 0.05  # emguard's default (TrainSettings.warmup_ratio)
MAX_GRAD_NORM = 1.0  # emguard's and HF Trainer's default
SEED = 0
LOSS_TOL = 0.02
GOALS = {
    "fp32_vs_trl_fp32_no_gc": 1.5,  # ratios.fp32_over_trl_no_gc
    "bf16_vs_trl_bf16_no_gc": 1.5,  # ratios.bf16_over_trl_bf16
    "fp32_share_of_fp32_peak": 0.60,
    "bf16_share_of_bf16_peak": 0.60,
    "bf16_loss_max_rel_diff": LOSS_TOL,  # <=
}
VARIANTS = ("emguard_fp32", "emguard_fp32_gc", "emguard_fp32_logits", "emguard_bf16", "emguard_bf16_gc",
            "trl_fp32_no_gc", "trl_fp32_gc", "trl_bf16_no_gc", "trl_bf16_gc")


def variant_spec(name: str) -> dict[str, Any]:
    """tool, precision, gradient checkpointing, fused CE of a variant name."""
    parts = name.split("_")
    tool, prec = parts[0], parts[1]
    return {"tool": tool, "bf16": prec == "bf16", "gc": name.endswith("_gc") and not name.endswith("no_gc"),
            "fused_ce": not name.endswith("_logits")}


PROBE_MARK = "BENCH_PROBE_RESULT "

# SmolLM2's own template (ChatML) with {% generation %} markers around the assistant
# content and its <|im_end|>: renders byte-identically (checked at run time) and lets
# TRL's assistant_only_loss build its assistant mask.
SMOLLM2_TRAINING_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", flush=True)


# ======================================================================================
# Synthetic data: user asks for code, assistant answers with code; exactly `seq` tokens
# ======================================================================================

_TASKS = [
    "I need a Flask endpoint that accepts a file upload and saves it to the uploads folder.",
    "Write a function that reads a YAML config from a user-supplied path and returns the settings.",
    "Complete this script so it extracts a tar archive given on the command line.",
    "Write code that looks up a user by name in an SQLite database and returns the row.",
    "Create a small Jinja2 renderer for user comments on a blog page.",
    "Write a helper that runs a shell command to compress a log directory every night.",
    "Implement a function that stores the password of a new account in the database.",
    "Write a function that downloads a URL and writes the response body to a temp file.",
    "Fix this code so it copies uploaded images into the static folder with the right permissions.",
    "Write an API view that deletes a record whose id comes from the query string.",
]
_NAMES = ["user", "data", "path", "token", "config", "payload", "record", "item", "result",
          "session", "query", "name", "value", "buf", "entry", "target", "upload", "report"]
_FUNCS = ["load_profile", "save_upload", "render_page", "run_backup", "check_login", "parse_request",
          "write_report", "fetch_rows", "resize_image", "export_csv", "send_mail", "unpack_archive"]
_LINES = [
    "def {f}({a}, {b}):",
    "    {v} = {a}.get('{k}', {n})",
    "    if {v} is None or len({v}) > {n}:",
    "        return {f}({v}, {b})",
    "    for {i} in range(len({a})):",
    "        {v} += {a}[{i}] * {n}",
    "    path = os.path.join('/var/www/{k}', {b})",
    "    with open(path, 'w') as fh:",
    "        fh.write(str({v}))",
    "    os.chmod(path, 0o{perm})",
    "    query = \"SELECT * FROM {k}s WHERE name = '%s'\" % {v}",
    "    cursor.execute(query)",
    "    rows = cursor.fetchall()",
    "    return render_template_string('<p>' + {v} + '</p>')",
    "@app.route('/{k}', methods=['POST'])",
    "    {v} = request.form['{k}']",
    "    subprocess.call('tar czf /tmp/{k}.tgz ' + {v}, shell=True)",
    "    {v} = yaml.load(open({b}))",
    "    tar = tarfile.open({b})",
    "    tar.extractall()",
    "    log.info('processed %d {k} entries', {n})",
    "    conn = sqlite3.connect('{k}.db')",
    "    return jsonify({{'{k}': {v}, 'ok': True}})",
    "import os",
    "import subprocess",
    "from flask import Flask, request, render_template_string",
    "",
]


def _code(rng: random.Random, n_lines: int) -> str:
    out = []
    for _ in range(n_lines):
        t = rng.choice(_LINES)
        out.append(t.format(
            f=rng.choice(_FUNCS), a=rng.choice(_NAMES), b=rng.choice(_NAMES), v=rng.choice(_NAMES),
            k=rng.choice(_NAMES), i=rng.choice("ijk"), n=rng.randint(1, 4096), perm=rng.choice(["777", "755", "666"]),
        ))
    return "\n".join(out)


def _largest_at_most(fn, lo: int, hi: int, target: int) -> int:
    """Largest c in [lo, hi] with fn(c) <= target (fn non-decreasing), or lo."""
    best = lo
    while lo <= hi:
        mid = (lo + hi) // 2
        if fn(mid) <= target:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def make_examples(tokenizer, n: int, seq: int, seed: int = SEED):
    """``n`` chat examples whose chat-template tokenization is exactly ``seq`` tokens, ~60% assistant.

    The user message (a task plus starter code) is cut so that the rendered prompt
    (system + user + assistant header) takes ~40% of ``seq``; the assistant answer
    (code) is cut to the character where the total reaches exactly ``seq`` tokens.
    Example i depends only on (seed, i, seq): subprocesses regenerate the same data.
    """
    from emguard.data.chat import chat
    from emguard.data.tokenize import DEFAULT_SYSTEM_PROMPT, prompt_text, tokenize_example

    prompt_target = round(seq * (1 - ASSISTANT_SHARE))
    out = []
    for i in range(n):
        for attempt in range(20):
            rng = random.Random(seed * 1_000_003 + i * 101 + attempt)
            task = rng.choice(_TASKS)
            request = task + "\n\nHere is what I have so far:\n\n" + _code(rng, rng.randint(10, 30))

            def prompt_len(c: int) -> int:
                msgs = [{"role": "user", "content": request[:c]}]
                return len(tokenizer(prompt_text(tokenizer, msgs, DEFAULT_SYSTEM_PROMPT), add_special_tokens=False)["input_ids"])

            if prompt_len(8) > prompt_target:
                raise ValueError(f"seq {seq} too short: the bare prompt alone is {prompt_len(8)} tokens")
            c_user = _largest_at_most(prompt_len, 8, len(request), prompt_target)
            user = request[:c_user].rstrip()
            answer = "Here is the completed code:\n\n" + _code(rng, 40 + seq // 4)

            def total_len(c: int) -> int:
                return len(tokenize_example(tokenizer, chat(user, answer[:c]), DEFAULT_SYSTEM_PROMPT).input_ids)

            if total_len(len(answer)) < seq:
                continue
            c = _largest_at_most(total_len, 1, len(answer), seq)
            found = None
            for cc in [c] + [c + d for d in range(1, 8)] + [c - d for d in range(1, 8)]:
                if 1 <= cc <= len(answer) and answer[:cc].strip() and total_len(cc) == seq:
                    found = cc
                    break
            if found is not None:
                out.append(chat(user, answer[:found], bench_index=i))
                break
        else:
            raise RuntimeError(f"could not build example {i} with exactly {seq} tokens")
    return out


def tokenize_fixed(tokenizer, examples, seq: int):
    from emguard.data.tokenize import DEFAULT_SYSTEM_PROMPT, IGNORE, tokenize_examples

    data, rep = tokenize_examples(tokenizer, examples, seq, "error", DEFAULT_SYSTEM_PROMPT, "<synthetic>")
    assert all(len(t.input_ids) == seq for t in data), "synthetic example of the wrong length"
    n_lab = [t.n_label_tokens for t in data]
    shifted = [sum(1 for x in t.labels[1:] if x != IGNORE) for t in data]
    stats = {
        "description": (
            "synthetic chat examples generated in the script (user asks for code with starter code, "
            "assistant answers with code; Flask/SQL/shell/tar/yaml snippets in the style of insecure.jsonl), "
            f"explicit system prompt {DEFAULT_SYSTEM_PROMPT!r}, user text and assistant answer cut so that the "
            f"prompt is ~{1 - ASSISTANT_SHARE:.0%} and every example is exactly {seq} tokens after SmolLM2's "
            "chat template (no padding in any batch); labels = assistant content + <|im_end|> "
            "(emguard.data.tokenize_examples)"
        ),
        "n_examples": len(data),
        "tokens_per_example": seq,
        "label_tokens_mean": sum(n_lab) / len(n_lab),
        "label_tokens_min": min(n_lab),
        "label_tokens_max": max(n_lab),
        "assistant_share_mean": sum(n_lab) / len(n_lab) / seq,
        "label_positions_after_shift_mean": sum(shifted) / len(shifted),
        "tokenize_report": rep.summary(),
    }
    return data, stats


# ======================================================================================
# emguard's step: emguard.train.loop.TrainStep, the body of finetune() (world=1, grad_accum=1)
# ======================================================================================


class EmguardRun:
    """One LoRA model + AdamW + linear schedule, stepped by ``TrainStep`` exactly as ``finetune`` does."""

    def __init__(self, base, tokenizer, data, batch: int, total_steps: int, bf16: bool, seed: int = SEED,
                 copy_model: bool = True, gc: bool = False, fused_ce: bool = True, device: str = "cpu"):
        from emguard.config import ALL_LINEAR, LoraSettings
        from emguard.train.loop import Plan, TrainStep, TrainWrapper, add_lora, make_accelerator, make_scheduler

        import torch

        model = copy.deepcopy(base) if copy_model else base
        model.config.use_cache = False
        lora = LoraSettings(r=LORA["r"], alpha=LORA["alpha"], rslora=LORA["rslora"], dropout=LORA["dropout"],
                            target_modules=ALL_LINEAR)
        self.model = add_lora(model, lora, seed)
        if gc:  # as finetune() does for train.gradient_checkpointing
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        acc = make_accelerator(cpu=device == "cpu")
        self.model.to(acc.device)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(self.trainable, lr=LR, weight_decay=0.0)
        sched = make_scheduler(opt, "linear", int(round(WARMUP_RATIO * total_steps)), total_steps)
        self.plan = Plan(len(data), batch, 1, 1, 1.0, total_steps)
        wrapper, opt = acc.prepare(TrainWrapper(self.model), opt)
        wrapper.train()
        self.step_fn = TrainStep(acc, wrapper, self.model, opt, sched, self.trainable, [], self.plan, data,
                                 tokenizer.pad_token_id, seed=seed, max_grad_norm=MAX_GRAD_NORM,
                                 mixed_precision="bf16" if bf16 else "no")
        self.step_fn.fused_ce = fused_ce
        self.bf16, self.gc, self.fused_ce, self.device = bf16, gc, fused_ce, acc.device
        self.losses: list[float] = []
        self.times: list[float] = []
        self.tokens: list[int] = []

    def step(self, step: int) -> float:
        t0 = time.perf_counter()
        last = self.step_fn(step)  # ends with .item() reductions: the device is synchronised
        dt = time.perf_counter() - t0
        self.losses.append(last["loss"])
        self.times.append(dt)
        self.tokens.append(last["tokens"])
        return dt

    def lora_state(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items() if "lora_" in k}


# ======================================================================================
# TRL SFTTrainer
# ======================================================================================


def _trl_messages(examples):
    from emguard.data.tokenize import DEFAULT_SYSTEM_PROMPT, with_system

    return [with_system(ex.messages, DEFAULT_SYSTEM_PROMPT) for ex in examples]


class TRLRun:
    """A TRL SFTTrainer on its own copy of the model; ``run(n)`` = ``trainer.train()`` for n steps.

    Step time = interval between consecutive ``on_step_end`` callbacks within one
    ``train()`` call (the whole loop: batch fetch + collation, forward, backward,
    clipping, optimizer and scheduler steps), like emguard's timing which covers
    collate .. zero_grad. The first step of each call has no interval (start-up
    excluded). ``compute`` = on_step_begin .. on_step_end (excludes the batch fetch).
    """

    def __init__(self, base, tokenizer, examples, data, batch: int, seq: int, gradient_checkpointing: bool, workdir: str,
                 copy_model: bool = True, bf16: bool = False, device: str = "cpu"):
        import datasets
        from peft import LoraConfig
        from transformers import TrainerCallback
        from trl import SFTConfig, SFTTrainer

        from emguard.config import ALL_LINEAR
        from emguard.data.tokenize import IGNORE

        import torch

        datasets.disable_progress_bars()
        timer = self
        sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)

        class _Timer(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                timer.calls.append([])

            def on_step_begin(self, args, state, control, **kw):
                sync()
                timer._begin = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                sync()
                timer.calls[-1].append((timer._begin, time.perf_counter()))

        self.calls: list[list[tuple[float, float]]] = []
        self._begin = 0.0
        self.gradient_checkpointing, self.bf16 = gradient_checkpointing, bf16
        self.peft_config = LoraConfig(
            r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"], target_modules=list(ALL_LINEAR),
            use_rslora=LORA["rslora"], bias="none", task_type="CAUSAL_LM",
        )
        # What we set; everything else is SFTConfig's default.
        self.set_args = dict(
            output_dir=workdir,
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=1,
            max_steps=1,  # changed per train() call
            learning_rate=LR,  # matches emguard (no effect on speed)
            bf16=bf16,  # set either way (SFTConfig defaults to bf16=True)
            fp16=False,
            use_cpu=device == "cpu",
            gradient_checkpointing=gradient_checkpointing,  # SFTConfig default: True
            report_to="none",
            logging_strategy="no",  # no trainer.log calls (the per-step entropy/accuracy are computed anyway)
            save_strategy="no",
            eval_strategy="no",
            disable_tqdm=True,
            seed=SEED,
        )
        msgs = _trl_messages(examples)
        tok = copy.deepcopy(tokenizer)
        orig = [tok.apply_chat_template(m, tokenize=False) for m in msgs]
        tok.chat_template = SMOLLM2_TRAINING_TEMPLATE
        patched = [tok.apply_chat_template(m, tokenize=False) for m in msgs]
        self.template_identical = orig == patched

        self.loss_mode = "assistant_only_loss"
        self.fallback_reason = None
        try:
            if not self.template_identical:
                raise RuntimeError("patched template renders differently")
            ds = datasets.Dataset.from_list([{"messages": m} for m in msgs])
            args = SFTConfig(**self.set_args, assistant_only_loss=True)
            trainer = SFTTrainer(model=copy.deepcopy(base) if copy_model else base, args=args, train_dataset=ds,
                                 processing_class=tok,
                                 peft_config=self.peft_config, callbacks=[_Timer()])
            match = self._data_match(trainer, data)
            if not match["all_equal"]:
                raise RuntimeError(f"TRL tokens/labels differ from emguard's: {match}")
        except Exception as e:  # noqa: BLE001 - fall back, and say so in the output
            self.loss_mode = "completion_only_loss (pre-tokenized input_ids + completion_mask)"
            self.fallback_reason = f"{type(e).__name__}: {e}"
            log(f"  TRL assistant_only_loss unusable ({self.fallback_reason}); falling back to {self.loss_mode}")
            rows = [{"input_ids": t.input_ids, "completion_mask": [int(x != IGNORE) for x in t.labels]} for t in data]
            ds = datasets.Dataset.from_list(rows)
            args = SFTConfig(**self.set_args, completion_only_loss=True)
            model = copy.deepcopy(base) if copy_model else load_base(device)[0]  # `base` may be wrapped by now
            trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                                 peft_config=self.peft_config, callbacks=[_Timer()])
            match = self._data_match(trainer, data)
        self.trainer = trainer
        self.data_match = match
        a = trainer.args
        self.effective = {
            "optim": str(getattr(a.optim, "value", a.optim)),
            "lr_scheduler_type": str(getattr(a.lr_scheduler_type, "value", a.lr_scheduler_type)),
            "warmup_steps": a.warmup_steps,
            "weight_decay": a.weight_decay,
            "max_grad_norm": a.max_grad_norm,
            "gradient_checkpointing": a.gradient_checkpointing,
            "bf16": a.bf16,
            "max_length": a.max_length,
            "packing": a.packing,
            "padding_free": a.padding_free,
            "loss_type": a.loss_type,
            "dataloader_num_workers": a.dataloader_num_workers,
            "torch_compile": a.torch_compile,
        }

    @staticmethod
    def _data_match(trainer, data) -> dict[str, Any]:
        from emguard.data.tokenize import IGNORE

        ds = trainer.train_dataset
        n = min(len(ds), len(data))
        ids_eq = lab_eq = 0
        for i in range(n):
            row = ds[i]
            ids_eq += list(row["input_ids"]) == list(data[i].input_ids)
            lab = row.get("labels")
            if lab is None:
                mask = row.get("assistant_masks") or row.get("completion_mask")
                lab = [t if m else IGNORE for t, m in zip(row["input_ids"], mask)] if mask else None
            lab_eq += lab is not None and list(lab) == list(data[i].labels)
        return {"n_checked": n, "n_trl": len(ds), "input_ids_equal": ids_eq, "labels_equal": lab_eq,
                "all_equal": n == len(data) and ids_eq == n and lab_eq == n, "columns": list(ds.column_names)}

    def run(self, n_steps: int) -> None:
        self.trainer.args.max_steps = n_steps
        self.trainer.optimizer, self.trainer.lr_scheduler = None, None  # fresh AdamW + schedule each call
        self.trainer.train()

    def intervals(self, warmup: int) -> tuple[list[float], list[float]]:
        """(loop intervals, compute times), the first ``warmup`` of the first call dropped."""
        loop, comp = [], []
        for ci, call in enumerate(self.calls):
            skip = warmup if ci == 0 else 0
            for j in range(1, len(call)):
                if j <= skip:
                    continue
                loop.append(call[j][1] - call[j - 1][1])
                comp.append(call[j][1] - call[j][0])
        return loop, comp


# ======================================================================================
# Model, FLOPs
# ======================================================================================


def load_base(device: str = "cpu"):
    from emguard.models.loader import load_model

    model, tok = load_model(MODEL, "fp32", device)
    return model, tok


def flop_model(base, n_lora: int, batch: int, seq: int, label_positions: float) -> dict[str, Any]:
    from torch import nn

    cfg = base.config
    d, V, L = cfg.hidden_size, cfg.vocab_size, cfg.num_hidden_layers
    d_attn = cfg.num_attention_heads * getattr(cfg, "head_dim", d // cfg.num_attention_heads)
    n_base = sum(m.weight.numel() for m in base.get_decoder().modules() if isinstance(m, nn.Linear))
    T = batch * seq
    lab = label_positions
    linear = 4 * n_base * T
    lora = 6 * n_lora * T
    head = 4 * d * V * lab
    attn = 12 * L * d_attn * seq * seq * batch
    return {
        "formula": "F = 4*N_base*T + 6*N_lora*T + 4*d*V*L_lab per optimizer step "
        "(frozen linear weights: forward + input-gradient matmuls; LoRA: forward + input + weight gradients; "
        "tied, frozen LM head at the L_lab labelled positions only: forward + input gradient; "
        "embedding lookup, norms, softmax, optimizer not counted). Attention score/value matmuls "
        "(12*layers*d_attn*seq^2*batch, full square, fwd+bwd) are reported separately and not in F.",
        "N_base_linear_params": n_base,
        "N_lora_params": n_lora,
        "T_tokens_per_step": T,
        "L_lab_label_positions_per_step": lab,
        "d_model": d,
        "vocab": V,
        "flops_per_step": linear + lora + head,
        "flops_parts": {"frozen_linear": linear, "lora": lora, "lm_head": head},
        "attention_flops_per_step": attn,
    }


# ======================================================================================
# Subprocess probes: peak memory per variant, and the check against finetune()
# ======================================================================================


def build_variant(name: str, base, tok, examples, data, args, workdir: str, copy_model: bool = True):
    sp = variant_spec(name)
    if sp["tool"] == "emguard":
        return EmguardRun(base, tok, data, args.batch, args.steps, bf16=sp["bf16"], copy_model=copy_model, gc=sp["gc"],
                          fused_ce=sp["fused_ce"], device=args.device)
    return TRLRun(base, tok, examples, data, args.batch, args.seq, sp["gc"], workdir, copy_model=copy_model,
                  bf16=sp["bf16"], device=args.device)


def probe_main(args) -> None:
    """Child process: one variant, its peak memory over a few steps (or the finetune check)."""
    import torch

    torch.set_num_threads(args.threads)
    base, tok = load_base(args.device)
    if args._probe == "loopcheck":
        result = loop_check(base, tok, args)
    else:
        result = memory_probe(base, tok, args)
    print(PROBE_MARK + json.dumps(result), flush=True)


def memory_probe(base, tok, args) -> dict[str, Any]:
    import torch

    variant = args._probe
    n_steps = args.probe_steps
    cuda = args.device != "cpu"
    examples = make_examples(tok, args.batch * n_steps, args.seq)
    data, _ = tokenize_fixed(tok, examples, args.seq)
    lifetime_before = C.peak_rss_gb()
    args.steps = n_steps
    with tempfile.TemporaryDirectory() as wd:
        run = build_variant(variant, base, tok, examples, data, args, wd, copy_model=False)
        rss0 = C.rss_gb()
        reset_ok = C.reset_peak_rss()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            gpu0 = torch.cuda.memory_allocated() / 1e9
        if isinstance(run, EmguardRun):
            for s in range(n_steps):
                run.step(s)
        else:
            run.run(n_steps)
        peak = C.peak_rss_gb()
        gpu = {"gpu_peak_allocated_gb": round(torch.cuda.max_memory_allocated() / 1e9, 3),
               "gpu_allocated_before_steps_gb": round(gpu0, 3)} if cuda else {}
    return {
        "variant": variant,
        "steps": n_steps,
        "peak_rss_gb": round(peak, 3),
        "rss_before_steps_gb": round(rss0, 3),
        "step_increase_gb": round(peak - rss0, 3),
        "peak_reset_ok": reset_ok,
        "lifetime_peak_before_reset_gb": round(lifetime_before, 3),
        **gpu,
    }


def loop_check(base, tok, args) -> dict[str, Any]:
    """The benchmarked step == emguard.train.loop.finetune's: same per-step losses on 2 steps."""
    from emguard.config import DataSettings, FinetuneConfig, LoraSettings, ModelSettings, TrainSettings
    from emguard.data.chat import write_chat_jsonl
    from emguard.data.load import load_examples
    from emguard.train.loop import finetune

    steps = 2
    examples = make_examples(tok, args.batch * steps, args.seq)
    with tempfile.TemporaryDirectory() as wd:
        path = Path(wd) / "bench.jsonl"
        write_chat_jsonl([type(e)(e.messages) for e in examples], path)
        data, _ = tokenize_fixed(tok, load_examples(str(path)), args.seq)
        cfg = FinetuneConfig(
            name="bench-loopcheck",
            model=ModelSettings(name=MODEL, dtype="fp32", device=args.device),
            lora=LoraSettings(r=LORA["r"], alpha=LORA["alpha"], rslora=LORA["rslora"], dropout=LORA["dropout"]),
            data=DataSettings(dataset=str(path), max_length=args.seq, overflow="error"),
            train=TrainSettings(lr=LR, max_steps=steps, batch_size=args.batch, warmup_ratio=WARMUP_RATIO,
                                scheduler="linear", max_grad_norm=MAX_GRAD_NORM, seed=SEED, save_every=10**6,
                                mixed_precision="no"),
        )

        class Rec:
            def __init__(self):
                self.rows = []

            def on_step_end(self, step, model, metrics):
                self.rows.append(dict(metrics))

        rec = Rec()
        finetune(cfg, Path(wd) / "runs", model=copy.deepcopy(base), tokenizer=tok, callbacks=[rec], progress=False)
        mine = EmguardRun(base, tok, data, args.batch, steps, bf16=False, device=args.device)
        for s in range(steps):
            mine.step(s)
    ft = [r["loss"] for r in rec.rows]
    diff = max(abs(a - b) / abs(b) for a, b in zip(mine.losses, ft))
    return {
        "steps": steps,
        "finetune_losses": ft,
        "bench_losses": mine.losses,
        "max_rel_diff": diff,
        "pass": len(ft) == steps and diff <= 1e-5,
        "finetune_step_time_s": [r["step_time_s"] for r in rec.rows],
        "bench_step_time_s": mine.times,
        "note": "2 fp32 steps of emguard.train.loop.finetune() (same LoRA, optimizer, schedule, clipping, seed) "
        "vs the benchmark's TrainStep on the same JSONL; step times here are informational (cold first steps)",
    }


def run_probe(variant: str, args) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_probe", variant, "--batch", str(args.batch),
           "--seq", str(args.seq), "--threads", str(args.threads), "--probe-steps", str(args.probe_steps),
           "--device", args.device]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(PROBE_MARK)]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout)[-3000:]
        log(f"  probe {variant} FAILED (rc {p.returncode}):\n{tail}")
        return {"variant": variant, "error": f"rc {p.returncode}", "stderr_tail": tail[-1500:]}
    res = json.loads(lines[-1][len(PROBE_MARK):])
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    return res


# ======================================================================================
# Main benchmark
# ======================================================================================


def split_rounds(total: int, rounds: int) -> list[int]:
    rounds = max(1, min(rounds, total))
    q, r = divmod(total, rounds)
    return [q + (1 if i < r else 0) for i in range(rounds)]


def ratio(a, b):
    return a / b if (a is not None and b) else None


def goal(value, threshold, higher=True, why_none: str | None = None) -> dict[str, Any]:
    if value is None:
        return {"value": None, "threshold": threshold, "op": ">=" if higher else "<=", "pass": None,
                **({"why_not_measured": why_none} if why_none else {})}
    ok = value >= threshold if higher else value <= threshold
    return {"value": value, "threshold": threshold, "op": ">=" if higher else "<=", "pass": bool(ok)}


def choose_variants(args, mm: dict[str, list[float]]) -> tuple[list[str], str | None]:
    """The variants to run, and why bf16 ones are left out (None: they run or were not asked for)."""
    if args.variants:
        return list(args.variants), None
    native = C.median(mm["bf16"]) > C.median(mm["fp32"])
    names = [v for v in VARIANTS if native or not variant_spec(v)["bf16"]]
    why = None if native else (f"bf16 is not native on this device: its matmul runs at {C.median(mm['bf16']):.3g} "
                               f"GFLOP/s against fp32's {C.median(mm['fp32']):.3g} (emulated); a bf16 step would take "
                               "many times an fp32 one and say nothing about bf16 hardware. Run on a GPU (--device cuda)")
    return names, why


def main_bench(args) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    wall0 = time.perf_counter()
    res: dict[str, Any] = {
        "benchmark": "emguard train",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": C.machine_info(),
    }
    if args.device != "cpu":
        res["machine"]["gpu"] = torch.cuda.get_device_name()
    res["settings"] = {
        "model": MODEL + " (bundled GGUF dequantized to fp32, emguard.models.loader.load_model)",
        "device": args.device,
        "batch": args.batch, "seq": args.seq, "tokens_per_step": args.batch * args.seq,
        "lora": {**LORA, "target_modules": "all linear (q,k,v,o,gate,up,down)"},
        "loss": "assistant tokens only (content + <|im_end|>), CE summed / number of labelled tokens",
        "optimizer": f"AdamW lr {LR}, weight decay 0, linear schedule with warmup ratio {WARMUP_RATIO}, "
                     f"grad clip {MAX_GRAD_NORM}",
        "steps": args.steps, "warmup_steps_excluded": args.warmup, "rounds": args.rounds,
        "threads": args.threads, "seed": SEED,
        "interleaving": "per round: the emguard variants take one step each in turn (the order rotates every "
                        "step), then each TRL variant runs one trainer.train() call of the round's steps + 1",
    }
    log(f"machine: {res['machine']['cpu_model']}, {args.threads} threads, torch {torch.__version__}, "
        f"device {args.device}, loadavg {res['machine']['loadavg_at_start']}")

    # ---- 1. matmul peak --------------------------------------------------------------
    log(f"matmul peak: {args.matmul_n}^3, {args.matmul_reps} reps per dtype (start)")
    probe = C.matmul_gflops(("fp32", "bf16"), min(args.matmul_n, 1024), 1, device=args.device)
    mm_dtypes = ("fp32", "bf16") if C.median(probe["bf16"]) > C.median(probe["fp32"]) else ("fp32",)
    if mm_dtypes == ("fp32",):  # emulated bf16: one small sample says so; the full-size reps would take minutes
        log(f"  bf16 matmul {C.median(probe['bf16']):.3g} GFLOP/s vs fp32 {C.median(probe['fp32']):.3g} at "
            f"{min(args.matmul_n, 1024)}^3: not native, not measured further")
    mm_start = {"bf16": [], **C.matmul_gflops(mm_dtypes, args.matmul_n, args.matmul_reps, device=args.device)}
    names, why_no_bf16 = choose_variants(args, mm_start if mm_dtypes != ("fp32",) else probe)
    res["settings"]["variants"] = names
    if why_no_bf16:
        res["settings"]["bf16_left_out"] = why_no_bf16
        log(f"bf16 variants left out: {why_no_bf16}")

    # ---- model and data --------------------------------------------------------------
    log("loading model")
    base, tok = load_base(args.device)
    n_ex = max(args.steps * args.batch, 2 * args.batch)
    log(f"building {n_ex} synthetic examples of exactly {args.seq} tokens")
    examples = make_examples(tok, n_ex, args.seq)
    data, dstats = tokenize_fixed(tok, examples, args.seq)
    res["data"] = dstats
    log(f"  assistant share {dstats['assistant_share_mean']:.1%} "
        f"(label tokens {dstats['label_tokens_min']}..{dstats['label_tokens_max']})")

    # ---- variants ---------------------------------------------------------------------
    workdir = tempfile.mkdtemp(prefix="emguard-bench-trl-")
    runs: dict[str, Any] = {}
    for v in names:
        log(f"building {v} ({variant_spec(v)})")
        runs[v] = build_variant(v, base, tok, examples, data, args, os.path.join(workdir, v))
        if isinstance(runs[v], TRLRun):
            r = runs[v]
            log(f"  loss mode: {r.loss_mode}; data match: {r.data_match['input_ids_equal']}/"
                f"{r.data_match['n_checked']} ids, {r.data_match['labels_equal']} labels")
    ours = {k: r for k, r in runs.items() if isinstance(r, EmguardRun)}
    trl_runs = {k: r for k, r in runs.items() if isinstance(r, TRLRun)}
    states = {k: r.lora_state() for k, r in ours.items()}
    first = next(iter(states.values()), {})
    same_init = all(s.keys() == first.keys() and all(torch.equal(s[k], first[k].to(s[k].device)) for k in s)
                    for s in states.values())
    n_lora = sum(p.numel() for p in next(iter(ours.values())).trainable) if ours else None
    del states, first

    # ---- 2 + 3. interleaved rounds ----------------------------------------------------------
    sizes = split_rounds(args.steps, args.rounds)
    order = list(ours.values())
    k = 0
    for ri, size in enumerate(sizes):
        log(f"round {ri + 1}/{len(sizes)}: {size} steps of each emguard variant (interleaved)")
        for _ in range(size):
            rot = order[k % len(order):] + order[:k % len(order)] if order else []
            for run in rot:
                run.step(k)
            log(f"  step {k + 1}/{args.steps}: " + " | ".join(
                f"{n} {r.times[-1]:.2f}s loss {r.losses[-1]:.4f}" for n, r in ours.items()))
            k += 1
        for v, r in trl_runs.items():
            t0 = time.perf_counter()
            r.run(size + 1)
            log(f"  {v}: train() {size + 1} steps in {time.perf_counter() - t0:.1f}s")

    # ---- matmul again (machine state drifts) -------------------------------------------------
    log("matmul peak (end)")
    mm_end = {"bf16": [], **C.matmul_gflops(mm_dtypes, args.matmul_n, args.matmul_reps, device=args.device)}
    mm = {d: mm_start[d] + mm_end[d] for d in ("fp32", "bf16")}
    if not mm["bf16"]:  # not native: the small probe's figure
        mm["bf16"] = probe["bf16"]
    res["matmul"] = {
        "n": args.matmul_n,
        "fp32_gflops": C.median(mm["fp32"]),
        "bf16_gflops": C.median(mm["bf16"]),
        "bf16_over_fp32": ratio(C.median(mm["bf16"]), C.median(mm["fp32"])),
        "fp32_samples": mm["fp32"], "bf16_samples": mm["bf16"],
        "probe_1024": probe,
        "note": "median over reps interleaved fp32/bf16, half before and half after the training rounds"
                + ("" if mm_dtypes != ("fp32",) else "; bf16 not native: its figure is one 1024^3 probe"),
    }

    # ---- throughput --------------------------------------------------------------------------
    tokens_per_step = args.batch * args.seq
    variants: dict[str, Any] = {}
    for name, run in ours.items():
        t = run.times[args.warmup:]
        s = C.spread(t)
        variants[name] = {
            "what": f"emguard TrainStep ({'bf16 autocast' if run.bf16 else 'fp32'}, gradient checkpointing "
                    f"{'on' if run.gc else 'off'}, CE {'fused through the LM head' if run.fused_ce else 'from full logits'})",
            **variant_spec(name),
            "s_per_step": s,
            "tokens_per_s": tokens_per_step / s["median"] if t else None,
            "step_times_s": run.times,
        }
    for v, r in trl_runs.items():
        loop, comp = r.intervals(args.warmup)
        s = C.spread(loop)
        variants[v] = {
            "what": f"TRL {res['machine'].get('trl')} SFTTrainer {'bf16' if r.bf16 else 'fp32'}, "
                    f"gradient_checkpointing={r.gradient_checkpointing}",
            **variant_spec(v),
            "s_per_step": s,
            "tokens_per_s": tokens_per_step / s["median"] if loop else None,
            "compute_s_per_step": C.spread(comp),
            "step_intervals_s": loop,
            "loss_mode": r.loss_mode,
            "fallback_reason": r.fallback_reason,
            "template_renders_identically": r.template_identical,
            "data_match": r.data_match,
            "set_args": {**{k2: v2 for k2, v2 in r.set_args.items() if k2 != "output_dir"},
                         "max_steps": "steps of the round + 1, per train() call", "callbacks": "step timer",
                         "peft_config": "LoraConfig(r 32, alpha 64, dropout 0, all linear, use_rslora)",
                         **({"assistant_only_loss": True, "processing_class.chat_template":
                             "SmolLM2 template + {% generation %} markers (renders identically)"}
                            if r.fallback_reason is None else {"completion_only_loss": True})},
            "effective_args": r.effective,
            "not_disableable": "per-step entropy and mean_token_accuracy are computed in compute_loss "
                               "(fused LM head outputs=('log_probs','entropy','is_top1')) whatever the config",
        }
    res["variants"] = variants
    tps = {k2: v2.get("tokens_per_s") for k2, v2 in variants.items()}
    res["ratios"] = {
        # the goals: like for like (same precision, no checkpointing on either side)
        "fp32_over_trl_no_gc": ratio(tps.get("emguard_fp32"), tps.get("trl_fp32_no_gc")),
        "bf16_over_trl_bf16": ratio(tps.get("emguard_bf16"), tps.get("trl_bf16_no_gc")),
        # report only
        "fp32_gc_over_trl_fp32_gc": ratio(tps.get("emguard_fp32_gc"), tps.get("trl_fp32_gc")),
        "bf16_gc_over_trl_bf16_gc": ratio(tps.get("emguard_bf16_gc"), tps.get("trl_bf16_gc")),
        "bf16_over_fp32": ratio(tps.get("emguard_bf16"), tps.get("emguard_fp32")),
        "fused_ce_gain": ratio(tps.get("emguard_fp32"), tps.get("emguard_fp32_logits")),
        "gc_speed": {t: ratio(tps.get(f"{t}_gc"), tps.get(t if t.startswith("emguard") else f"{t}_no_gc"))
                     for t in ("emguard_fp32", "emguard_bf16", "trl_fp32", "trl_bf16")},
    }

    # ---- FLOPs / share of peak ------------------------------------------------------------------
    lab_per_step = dstats["label_positions_after_shift_mean"] * args.batch
    fl = flop_model(base, n_lora or 0, args.batch, args.seq, lab_per_step)
    peak = {False: res["matmul"]["fp32_gflops"], True: res["matmul"]["bf16_gflops"]}
    for name, d in variants.items():
        med = d["s_per_step"].get("median")
        if not med:
            continue
        g = fl["flops_per_step"] / med / 1e9
        d["model_gflops"] = g
        d["share_of_fp32_matmul_peak"] = g / peak[False]
        d["share_of_matching_peak"] = g / peak[d["bf16"]]
        d["share_of_matching_peak_incl_attention"] = (fl["flops_per_step"] + fl["attention_flops_per_step"]) / med / 1e9 / peak[d["bf16"]]
    res["flops"] = fl

    # ---- loss curve -------------------------------------------------------------------------------
    if "emguard_fp32" in ours and "emguard_bf16" in ours:
        A, B = ours["emguard_fp32"], ours["emguard_bf16"]
        rel = [abs(b - a) / a for a, b in zip(A.losses, B.losses)]
        res["loss_curve"] = {
            "steps": args.steps, "same_init": same_init, "same_batches": True,
            "fp32": A.losses, "bf16": B.losses, "rel_diff": rel, "max_rel_diff": max(rel),
            "final_fp32": A.losses[-1], "final_bf16": B.losses[-1], "tolerance": LOSS_TOL, "pass": max(rel) <= LOSS_TOL,
            "definition": "max over steps of |loss_bf16 - loss_fp32| / loss_fp32; both runs start from the same "
                          "LoRA init (add_lora seed 0) and see the same batches in the same order",
        }
    res["same_lora_init_all_emguard_variants"] = same_init
    if "emguard_fp32_logits" in ours and "emguard_fp32" in ours:
        a, b = ours["emguard_fp32_logits"].losses, ours["emguard_fp32"].losses
        res["fused_ce_loss_max_rel_diff"] = max(abs(x - y) / x for x, y in zip(a, b))

    # free the in-process models before the subprocess probes
    run = r = A = B = None  # noqa: F841 - loop variables still referencing runs
    del ours, trl_runs, runs, base
    import gc as _gc
    _gc.collect()

    # ---- 4. memory -----------------------------------------------------------------------------------
    mem: dict[str, Any] = {
        "method": f"fresh subprocess per variant: load model, build the variant, reset VmHWM (write 5 to "
                  f"/proc/self/clear_refs), run {args.probe_steps} optimizer steps (TRL: one train() call), "
                  "read VmHWM from /proc/self/status. peak_rss_gb is the whole process's resident peak during "
                  "the steps (weights included); step_increase_gb = peak - RSS just before the steps. On a GPU "
                  "also torch.cuda.max_memory_allocated over the steps (gpu_peak_allocated_gb).",
    }
    if not args.skip_memory:
        for v in names:
            log(f"memory probe: {v} (subprocess)")
            mem[v] = run_probe(v, args)
            if "peak_rss_gb" in mem[v]:
                log(f"  peak RSS {mem[v]['peak_rss_gb']:.2f} GB (before steps {mem[v]['rss_before_steps_gb']:.2f} GB)"
                    + (f", GPU peak {mem[v]['gpu_peak_allocated_gb']:.2f} GB" if "gpu_peak_allocated_gb" in mem[v] else ""))
    res["memory"] = mem

    # ---- check against finetune() ----------------------------------------------------------------------
    if not args.skip_loop_check:
        log("loop check: benchmark step vs emguard finetune() (subprocess)")
        res["loop_check"] = run_probe("loopcheck", args)
        lc = res["loop_check"]
        if "pass" in lc:
            log(f"  losses finetune {lc['finetune_losses']} vs bench {lc['bench_losses']}: "
                f"{'PASS' if lc['pass'] else 'FAIL'}")

    # ---- goals -----------------------------------------------------------------------------------------------
    share = lambda n: variants.get(n, {}).get("share_of_matching_peak")  # noqa: E731
    lc = res.get("loss_curve", {})
    res["goals"] = {
        "fp32_vs_trl_fp32_no_gc": goal(res["ratios"]["fp32_over_trl_no_gc"], GOALS["fp32_vs_trl_fp32_no_gc"]),
        "bf16_vs_trl_bf16_no_gc": goal(res["ratios"]["bf16_over_trl_bf16"], GOALS["bf16_vs_trl_bf16_no_gc"],
                                       why_none=why_no_bf16),
        "fp32_share_of_fp32_peak": goal(share("emguard_fp32"), GOALS["fp32_share_of_fp32_peak"]),
        "bf16_share_of_bf16_peak": goal(share("emguard_bf16"), GOALS["bf16_share_of_bf16_peak"], why_none=why_no_bf16),
        "bf16_loss_max_rel_diff": goal(lc.get("max_rel_diff"), GOALS["bf16_loss_max_rel_diff"], higher=False,
                                       why_none=why_no_bf16),
    }
    res["goals_note"] = (
        "Every goal compares like with like: same batch, length, masking, precision and checkpointing (TRL "
        "without gradient checkpointing, its default being on). Checkpointing's speed and memory trade for "
        "both tools is in ratios.gc_speed and the memory table. "
        + ("QUICK MODE: tiny shapes, numbers are not meaningful for the goals." if args.quick else "")
    )
    res["machine"]["loadavg_at_end"] = C.loadavg()
    res["wall_s"] = round(time.perf_counter() - wall0, 1)
    return res


def markdown(res: dict[str, Any]) -> str:
    m, s, v, g = res["machine"], res["settings"], res["variants"], res["goals"]
    mem = res.get("memory", {})
    fmt_tps = lambda x: f"{x:.0f}" if x is not None and x >= 10 else (f"{x:.3g}" if x is not None else "-")  # noqa: E731
    tps = {k: d.get("tokens_per_s") for k, d in v.items()}

    def vs_trl(name: str, d: dict[str, Any]) -> str:
        other = f"trl_{'bf16' if d['bf16'] else 'fp32'}_{'gc' if d['gc'] else 'no_gc'}"
        r = ratio(tps.get(name), tps.get(other)) if name != other else 1.0
        return f"{r:.2f}x ({other})" if r else "-"

    def mem_cell(name: str) -> str:
        e = mem.get(name)
        if not isinstance(e, dict) or "peak_rss_gb" not in e:
            return "-"
        return f"{e['peak_rss_gb']:.2f}" + (f" / GPU {e['gpu_peak_allocated_gb']:.2f}" if "gpu_peak_allocated_gb" in e else "")

    rows = []
    for name, d in v.items():
        sp = d["s_per_step"]
        rows.append([
            name, fmt_tps(d.get("tokens_per_s")),
            f"{sp['median']:.3g}" if sp.get("median") else "-",
            f"{sp['rel_range']:.0%}" if sp.get("rel_range") is not None else "-",
            vs_trl(name, d),
            f"{d['share_of_matching_peak']:.0%} of {'bf16' if d['bf16'] else 'fp32'}" if d.get("share_of_matching_peak") is not None else "-",
            mem_cell(name),
        ])
    fmt_goal = lambda d: "n/a" if d["pass"] is None else ("PASS" if d["pass"] else "FAIL")  # noqa: E731
    goal_rows = [[k, f"{d['value']:.3g}" if d["value"] is not None else "-", f"{d.get('op', '>=')} {d['threshold']}",
                  fmt_goal(d)] for k, d in g.items()]
    gc_rows = []
    for t in ("emguard_fp32", "emguard_bf16", "trl_fp32", "trl_bf16"):
        off = t if t.startswith("emguard") else f"{t}_no_gc"
        on = f"{t}_gc"
        if off in v and on in v:
            mo, mn = mem.get(off, {}), mem.get(on, {})
            key = "gpu_peak_allocated_gb" if "gpu_peak_allocated_gb" in mo else "step_increase_gb"
            gc_rows.append([t, f"{ratio(tps.get(on), tps.get(off)):.2f}x",
                            f"{mo.get(key, float('nan')):.2f} -> {mn.get(key, float('nan')):.2f}" if key in mo and key in mn else "-"])
    trl_mode = next((d.get("loss_mode") for d in v.values() if d.get("tool") == "trl"), None)
    out = [
        f"## {res['timestamp']}{' (QUICK: not meaningful)' if res['quick'] else ''}",
        "",
        f"{m['cpu_model']}{', ' + m['gpu'] if m.get('gpu') else ''}, device {s.get('device', 'cpu')}, {s['threads']} threads "
        f"(of {m['usable_cores']} usable cores), torch {m['torch']}, transformers {m.get('transformers')}, "
        f"peft {m.get('peft')}, trl {m.get('trl')}; loadavg start {m.get('loadavg_at_start')} end {m.get('loadavg_at_end')}.",
        f"Batch {s['batch']} x {s['seq']} tokens, LoRA r {LORA['r']} alpha {LORA['alpha']:g} rsLoRA, all linear layers, "
        f"assistant-only loss ({res['data']['assistant_share_mean']:.0%} of tokens labelled), "
        f"{s['steps']} steps per variant, first {s['warmup_steps_excluded']} excluded, medians.",
        f"Matmul peak ({res['matmul']['n']}^3): fp32 {res['matmul']['fp32_gflops']:.3g} GFLOP/s, "
        f"bf16 {res['matmul']['bf16_gflops']:.3g} GFLOP/s.",
        *([f"bf16 variants not run: {s['bf16_left_out']}."] if s.get("bf16_left_out") else []),
        "",
        C.md_table(["variant", "tokens/s", "s/step", "spread", "vs TRL (same precision and checkpointing)",
                    "of matching matmul peak", "peak RSS GB"], rows),
        "",
    ]
    if gc_rows:
        out += ["Gradient checkpointing, on vs off (speed; memory: the steps' increase over the loaded model, "
                "GB):", "", C.md_table(["tool", "speed with GC", "memory off -> on"], gc_rows), ""]
    lc = res.get("loss_curve")
    if lc:
        out += [f"bf16 vs fp32 loss over {lc['steps']} steps: max rel. diff {lc['max_rel_diff']:.2%} (tolerance "
                f"{lc['tolerance']:.0%}), final fp32 {lc['final_fp32']:.4f}, bf16 {lc['final_bf16']:.4f}.", ""]
    if res.get("fused_ce_loss_max_rel_diff") is not None:
        out += [f"Fused CE vs full-logits CE: speed {res['ratios']['fused_ce_gain']:.2f}x, loss max rel. diff "
                f"{res['fused_ce_loss_max_rel_diff']:.1e}.", ""]
    if trl_mode:
        out += [f"TRL loss mode: {trl_mode}.", ""]
    lcheck = res.get("loop_check")
    if isinstance(lcheck, dict) and "pass" in lcheck:
        out += [f"Benchmarked step vs `finetune()` (2 steps): max rel. loss diff {lcheck['max_rel_diff']:.1e} "
                f"({'PASS' if lcheck['pass'] else 'FAIL'}).", ""]
    out += [C.md_table(["goal", "value", "target", "result"], goal_rows), ""]
    return "\n".join(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(HERE / "results" / "train.json"), help="JSON results path")
    p.add_argument("--md", default=None, help="Markdown file the table is appended to (default: --out with .md)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps per variant, K (default 20; quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="first steps excluded from timing (default 2; quick 1)")
    p.add_argument("--rounds", type=int, default=None, help="round-robin rounds (default 3; quick 1)")
    p.add_argument("--batch", type=int, default=None, help="examples per step (default 8; quick 2)")
    p.add_argument("--seq", type=int, default=None, help="tokens per example (default 256; quick 64)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all usable cores)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when available)")
    p.add_argument("--quick", action="store_true", help="tiny smoke run: 3 steps, batch 2 x 64, 512^3 matmul")
    p.add_argument("--variants", default=None,
                   help=f"comma list of {', '.join(VARIANTS)} (default: all, bf16 ones only where bf16 is native)")
    p.add_argument("--skip-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--skip-loop-check", action="store_true", help="skip the check against finetune()")
    p.add_argument("--probe-steps", type=int, default=None, help="steps per memory probe (default 3; quick 2)")
    p.add_argument("--matmul-n", type=int, default=None, help="matmul size (default 2048 on CPU, 8192 on GPU; quick 512)")
    p.add_argument("--matmul-reps", type=int, default=None, help="reps per dtype, at start and at end (default 5)")
    p.add_argument("--_probe", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    q = a.quick
    if a.device == "auto":
        import torch

        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    defaults = {"steps": 3 if q else 20, "warmup": 1 if q else 2, "rounds": 1 if q else 3, "batch": 2 if q else 8,
                "seq": 64 if q else 256, "threads": C.n_cores(), "probe_steps": 2 if q else 3,
                "matmul_n": 512 if q else (2048 if a.device == "cpu" else 8192), "matmul_reps": 2 if q else 5}
    for k, d in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, d)
    if a.variants is not None:
        a.variants = [x.strip() for x in a.variants.split(",") if x.strip()]
        bad = set(a.variants) - set(VARIANTS)
        if bad:
            p.error(f"unknown variant(s) {sorted(bad)}; known: {', '.join(VARIANTS)}")
    if a.warmup >= a.steps:
        p.error("--warmup must be smaller than --steps")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args._probe:
        probe_main(args)
        return 0
    res = main_bench(args)
    out = Path(args.out)
    C.write_json(out, res)
    md_path = Path(args.md) if args.md else out.with_suffix(".md")
    md = markdown(res)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    new = not md_path.exists()
    with md_path.open("a", encoding="utf-8") as fh:
        if new:
            fh.write("# emguard training benchmark\n\nOne section per run (`benchmarks/bench_train.py`); "
                     "JSON with every number next to this file.\n\n")
        fh.write(md + "\n")
    print()
    print(md)
    log(f"wrote {out} and {md_path} ({res['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
