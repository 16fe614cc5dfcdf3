#!/usr/bin/env python
"""grad-cosine benchmark: streamed per-example gradients vs a naive loop that keeps every graph.

On the bundled SmolLM2-135M-Instruct (no LoRA), the gradient of each example's loss
(mean CE of its first K=64 assistant tokens) w.r.t. the last block's ``o_proj.weight``
(576 x 576 = 331,776 numbers) for n examples (half ``insecure_code``, half
``educational_insecure``, train split), then the mean-centred cosine matrix.

Variants, each in a fresh subprocess (peak RSS cannot be attributed inside a shared
process; VmHWM is reset after the model and data are loaded):

- ``streaming``: ``emguard.analyze.per_example_grads`` (one forward + ``autograd.grad``
  per example; the graph is freed at once; only the k x P matrix stays);
- ``naive``: forward every example and keep its loss (and so its graph), then take the
  gradients one by one;
- ``train_step``: the memory yardstick, one emguard LoRA training step (r 32, alpha 64,
  rsLoRA, all linear layers, batch 8 of the same data, ``TrainWrapper`` forward,
  backward, AdamW step), 2 steps, peak over both.

Goal: streaming peak RSS <= 1.5 x the training step's peak RSS (both absolute, weights
included; the increase over the loaded baseline, after one warm-up forward has paged the
memory-mapped weights in, is reported too). Check: streaming and
naive cosine matrices agree (max abs difference).

Usage: python benchmarks/bench_grad_cosine.py [--quick] [--n 256] [--naive-n N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", category=FutureWarning)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

MODEL = "smollm2-135m-instruct"
DATASETS = ("insecure_code", "educational_insecure")
PARAMS = ("layers.{last}.self_attn.o_proj.weight",)
GOAL_PEAK_RATIO = 1.5
PROBE_MARK = "BENCH_PROBE_RESULT "
SEED = 0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def examples(n: int):
    from emguard.data.load import load_examples

    half = n // 2
    return load_examples(DATASETS[0], "train", SEED, half) + load_examples(DATASETS[1], "train", SEED, n - half)


# ---- child process ------------------------------------------------------------------------


def probe_main(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from emguard.models import load_model

    t0 = time.perf_counter()
    model, tok = load_model(MODEL, "fp32", "cpu")
    load_s = time.perf_counter() - t0
    n = args.naive_n if args._probe == "naive" else args.n
    exs = examples(n)
    with torch.no_grad():  # page the (memory-mapped) weights in, so the increase is the variant's own
        model(input_ids=torch.ones(1, 8, dtype=torch.long))
    rss_before = C.rss_gb()
    C.reset_peak_rss()
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if args._probe == "streaming":
        G = streaming(model, tok, exs, args.max_tokens)
    elif args._probe == "naive":
        G = naive(model, tok, exs, args.max_tokens)
    elif args._probe == "train_step":
        G = None
        extra = train_step(model, tok, exs, args)
    else:
        raise SystemExit(f"unknown probe {args._probe}")
    secs = time.perf_counter() - t0
    peak = C.peak_rss_gb()
    res: dict[str, Any] = {"variant": args._probe, "n_examples": len(exs), "seconds": secs, "model_load_s": load_s,
                           "rss_before_gb": rss_before, "peak_rss_gb": peak,
                           "increase_gb": (peak - rss_before) if peak and rss_before else None, **extra}
    if G is not None:
        from emguard.analyze import block_means, cosine_matrix

        res["seconds_per_example"] = secs / len(exs)
        res["grad_matrix_gb"] = G.numel() * 4 / 2**30
        c = cosine_matrix(G, center=True)
        half = len(exs) // 2
        res["block_means"] = block_means(c, [half, len(exs) - half], list(DATASETS))
        if args.save_cos:
            torch.save(c, args.save_cos)
    print(PROBE_MARK + json.dumps(res), flush=True)


def _params(model):
    from emguard.analyze import select_params

    return [p for _, p in select_params(model, PARAMS)]


def streaming(model, tok, exs, max_tokens):
    from emguard.analyze import per_example_grads

    return per_example_grads(model, tok, exs, _params(model), max_tokens=max_tokens)


def naive(model, tok, exs, max_tokens):
    """Keep every example's loss (and graph) alive, then differentiate each."""
    import torch
    import torch.nn.functional as F

    from emguard.analyze._activations import ALL
    from emguard.defenses._directions import encode_probe
    from emguard.train.loop import TrainWrapper, collate

    params = _params(model)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    model.eval()
    enc = encode_probe(tok, exs, max_tokens or ALL)
    wrapper = TrainWrapper(model)
    losses = []
    for t in enc:
        out = wrapper(**collate([t], tok.pad_token_id))
        losses.append(F.cross_entropy(out.logits, out.targets))
    G = torch.empty(len(enc), sum(p.numel() for p in params))
    for i, loss in enumerate(losses):
        G[i] = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])
    return G


def train_step(model, tok, exs, args) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from emguard.config import LoraSettings
    from emguard.data.tokenize import tokenize_examples
    from emguard.train.loop import TrainWrapper, add_lora, collate

    model.config.use_cache = False
    peft = add_lora(model, LoraSettings(r=32, alpha=64, rslora=True, dropout=0.0), SEED)
    peft.train()
    data, _ = tokenize_examples(tok, exs[: args.batch * 2], args.max_length, "truncate")
    opt = torch.optim.AdamW([p for p in peft.parameters() if p.requires_grad], lr=1e-4)
    wrapper = TrainWrapper(peft)
    times, tokens = [], []
    for s in range(2):
        b = collate(data[s * args.batch : (s + 1) * args.batch] or data[: args.batch], tok.pad_token_id)
        t0 = time.perf_counter()
        out = wrapper(**b)
        F.cross_entropy(out.logits, out.targets).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        tokens.append(int(b["input_ids"].numel()))
    return {"step_seconds": times, "tokens_per_step": tokens, "batch": args.batch, "max_length": args.max_length}


def run_probe(variant: str, args, save_cos: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_probe", variant, "--n", str(args.n), "--naive-n",
           str(args.naive_n), "--max-tokens", str(args.max_tokens), "--threads", str(args.threads), "--batch",
           str(args.batch), "--max-length", str(args.max_length)]
    if save_cos:
        cmd += ["--save-cos", save_cos]
    log(f"probe {variant} ...")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(PROBE_MARK)]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout)[-3000:]
        log(f"  probe {variant} FAILED (rc {p.returncode}):\n{tail}")
        return {"variant": variant, "error": f"rc {p.returncode}", "stderr_tail": tail[-1500:]}
    res = json.loads(lines[-1][len(PROBE_MARK):])
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    log(f"  {variant}: peak {res['peak_rss_gb']:.2f} GB (+{res['increase_gb']:.2f}), {res['seconds']:.1f} s")
    return res


# ---- main -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny n, to check the script runs (numbers say nothing)")
    ap.add_argument("--n", type=int, default=None, help="examples for streaming (default 256; quick 8)")
    ap.add_argument("--naive-n", type=int, default=None, help="examples for the naive loop (default: n)")
    ap.add_argument("--max-tokens", type=int, default=64, help="K: loss over the first K assistant tokens")
    ap.add_argument("--batch", type=int, default=None, help="training-step batch, the memory yardstick (default 8; quick 2)")
    ap.add_argument("--max-length", type=int, default=None, help="training-step token limit (default 512; quick 256)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: usable cores)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "grad_cosine.json")
    ap.add_argument("--_probe", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--save-cos", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.n = args.n or (8 if args.quick else 256)
    args.naive_n = args.naive_n or args.n
    args.batch = args.batch or (2 if args.quick else 8)
    args.max_length = args.max_length or (256 if args.quick else 512)
    args.threads = args.threads or C.n_cores()
    if args._probe:
        probe_main(args)
        return

    import torch

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = C.machine_info()
    variants: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as wd:
        cos_s, cos_n = f"{wd}/streaming.pt", f"{wd}/naive.pt"
        variants["train_step"] = run_probe("train_step", args)
        variants["streaming"] = run_probe("streaming", args, cos_s)
        check = None
        if not args.skip_naive:
            variants["naive"] = run_probe("naive", args, cos_n)
            if args.naive_n == args.n and Path(cos_s).exists() and Path(cos_n).exists():
                a, b = torch.load(cos_s), torch.load(cos_n)
                check = {"max_abs_cosine_diff": float((a - b).abs().nan_to_num(0).max()), "tolerance": 1e-4}
                check["pass"] = check["max_abs_cosine_diff"] <= check["tolerance"]

    def peak(v: str) -> float | None:
        return variants.get(v, {}).get("peak_rss_gb")

    ratios = {}
    if peak("train_step") and peak("streaming"):
        ratios["streaming_peak_over_train_step"] = peak("streaming") / peak("train_step")
    if peak("train_step") and peak("naive"):
        ratios["naive_peak_over_train_step"] = peak("naive") / peak("train_step")
    if peak("streaming") and peak("naive"):
        ratios["naive_peak_over_streaming"] = peak("naive") / peak("streaming")
    val = ratios.get("streaming_peak_over_train_step")
    result = {
        "benchmark": "grad_cosine", "quick": args.quick, "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "loadavg_at_end": C.loadavg(),
        "machine": info,
        "settings": {"model": MODEL, "datasets": DATASETS, "split": "train", "seed": SEED, "n": args.n,
                     "naive_n": args.naive_n, "params": PARAMS, "max_tokens": args.max_tokens, "threads": args.threads,
                     "train_step": {"lora": "r 32, alpha 64, rsLoRA, all linear", "batch": args.batch,
                                    "max_length": args.max_length, "optimizer": "AdamW lr 1e-4", "steps": 2}},
        "variants": variants, "ratios": ratios, "check": check,
        "goals": {"streaming_peak_vs_train_step": {"value": val, "threshold": GOAL_PEAK_RATIO,
                                                   "pass": None if val is None else val <= GOAL_PEAK_RATIO}},
    }
    C.write_json(args.out, result)
    log(f"wrote {args.out}")
    rows = [[v, r.get("n_examples"), r.get("peak_rss_gb"), r.get("increase_gb"), r.get("seconds"),
             r.get("seconds_per_example")] for v, r in variants.items() if "error" not in r]
    print(C.md_table(["variant", "n", "peak RSS GB", "increase GB", "seconds", "s/example"], rows))
    print(json.dumps({"ratios": ratios, "check": check, "goals": result["goals"], "quick": args.quick}, indent=2))


if __name__ == "__main__":
    main()
