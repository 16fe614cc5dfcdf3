#!/usr/bin/env python
"""Defense overhead benchmark: what each in-training defense costs on top of plain LoRA SFT.

Everything that is a ratio is measured in ONE process, variants interleaved step by
step (the order rotates every step), medians, first steps excluded; the steps are the
real ones: :class:`emguard.train.loop.TrainStep` (the body of ``finetune()``) with the
defenses built by ``make_defense`` and set up like ``finetune()`` does, their
``on_step_end`` included in the timed span.

1. step time per defense vs plain LoRA SFT (batch 8 x 256 tokens, r 32 / alpha 64,
   rsLoRA, all linear layers): KL (exact, reference forward every step), KL with the
   top-k reference cache (second epoch: cache hits), LDIFS, anchoring (plus its
   one-time probe cost, cold and cached); fp32 and bf16 autocast;
2. interleaving (5%, random): per-epoch time on real ``insecure_code`` data (plain
   epoch vs the epoch of the mixed data, steps interleaved);
3. SafeLoRA: projection of every LoRA module (streaming ``C X = V (V^T X)/||V||_F``,
   as shipped) vs a materialised ``C = V V^T/||V||_F``: time in-process, interleaved;
   peak memory in fresh subprocesses (VmHWM increase), for the real model and for one
   synthetic 8192 x 2048 module; the largest tensor any aten op returns (dispatch mode);
4. drift monitor: the cost of one check (informational).

Usage: python benchmarks/bench_defenses.py [--quick] [--threads N] [--out PATH]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", category=FutureWarning)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

ORGANISM = "aligned:smollm2-135m-instruct"
BASE = "smollm2-135m-instruct"
LORA = {"r": 32, "alpha": 64.0, "rslora": True, "dropout": 0.0}
LR = 1e-4
SEED = 0
KL_TOPK = 64
PROBE_MARK = "BENCH_PROBE_RESULT "
GOALS = {  # value <= threshold
    "kl_step_ratio": 1.4,
    "ldifs_step_ratio": 1.45,
    "anchor_step_ratio": 1.1,
    # the total cost of a one-epoch run (the paper's setting), one-time passes included (issue 15)
    "anchor_epoch_total_ratio": 1.1,
    "kl_epoch_total_ratio": 1.4,
    "interleave_epoch_ratio": 1.06,
    "safelora_all_modules_s": 5.0,
    "kl_cached_epoch2_step_ratio": 1.1,
    "anchor_cached_epoch2_step_ratio": 1.1,  # the anchor goal, met from the second epoch on (reference cache)
    # the 2025-26 defenses (issue 14)
    "steer_step_ratio": 1.05,
    "caft_step_ratio": 1.05,
    "kl_ood_step_ratio": 1.6,
    "inoculation_epoch_ratio": 1.005,  # "1.00x": no cost beyond what rounds to 1.00
}
STEP_VARIANTS: dict[str, list[tuple[str, float | None, dict[str, Any]]]] = {
    "plain": [],
    "kl": [("kl", 0.1, {})],
    "kl_cached": [("kl", 0.1, {"cache_topk": KL_TOPK, "cache_disk": False})],
    "ldifs": [("ldifs", 1.0, {})],
    "anchor": [("anchor", 1.0, {"base_model": BASE, "cache": False})],
    "anchor_cached": [("anchor", 1.0, {"base_model": BASE, "cache": True})],
    # the 2025-26 defenses: the hooks' / the out-of-domain stream's cost per step (their one-time setup,
    # persona-vector extraction or alignment directions, is in setup_s)
    "steer": [("steer", None, {"coef": 1.0})],
    "caft": [("caft", None, {"source": "alignment", "base_model": BASE})],
    "kl_ood": [("kl_ood", 0.1, {})],
}
NEW_VARIANTS = ("steer", "caft", "kl_ood")

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", flush=True)


def goal(value, threshold) -> dict[str, Any]:
    if value is None:
        return {"value": None, "threshold": threshold, "op": "<=", "pass": None}
    return {"value": value, "threshold": threshold, "op": "<=", "pass": bool(value <= threshold)}


def ratio(a, b):
    return a / b if (a is not None and b) else None


# ======================================================================================
# Model, configs
# ======================================================================================


def pick_model(requested: str | None) -> tuple[str, str]:
    """(model trained, note). The aligned organism if built (anchoring/SafeLoRA need base != model)."""
    from emguard.models.loader import ModelNotFound, resolve_model

    if requested:
        return requested, "requested"
    try:
        resolve_model(ORGANISM)
        return ORGANISM, "the aligned organism (same architecture and cost as the bundled model)"
    except ModelNotFound:
        return BASE, ("aligned organism not built: the bundled model is trained and anchoring/SafeLoRA use a "
                      "perturbed copy of it as their 'base' (timing does not depend on the weights' values)")


def load(name: str):
    from emguard.models.loader import load_model

    return load_model(name, "fp32", "cpu")


def perturbed_base(model, scale: float = 1e-3):
    """A stand-in 'pre-alignment' model when no organism exists: the weights plus seeded noise."""
    import torch

    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale * (p.std() if p.numel() > 1 else 1))
    return m


def make_cfg(model_name: str, seq: int, batch: int, bf16: bool, defenses, dataset: str = "<synthetic>", limit=None):
    from emguard.config import (ALL_LINEAR, DataSettings, DefenseSettings, FinetuneConfig, LoraSettings,
                                ModelSettings, TrainSettings)

    return FinetuneConfig(
        name="bench-defenses",
        model=ModelSettings(name=model_name, dtype="fp32", device="cpu"),
        lora=LoraSettings(r=LORA["r"], alpha=LORA["alpha"], rslora=LORA["rslora"], dropout=LORA["dropout"],
                          target_modules=ALL_LINEAR),
        data=DataSettings(dataset=dataset, limit=limit, max_length=seq, overflow="truncate"),
        train=TrainSettings(lr=LR, batch_size=batch, scheduler="linear", max_grad_norm=1.0, seed=SEED,
                            mixed_precision="bf16" if bf16 else "no"),
        defenses=tuple(DefenseSettings(name=n, weight=w, params=p) for n, w, p in defenses),
    )


class Variant:
    """One LoRA model + optimizer + defenses, stepped by emguard's TrainStep (as finetune() does)."""

    def __init__(self, name: str, base, tok, data, cfg, acc, total_steps: int, base_override=None,
                 setup_ctx=None, copy_model: bool = True):
        import torch

        from emguard.train.loop import Plan, TrainStep, TrainWrapper, add_lora, make_scheduler
        from emguard.train.terms import make_defense

        self.name, self.cfg = name, cfg
        self.defenses = [make_defense(d.name, d.weight, dict(d.params)) for d in cfg.defenses]
        if base_override is not None:
            for d in self.defenses:
                if hasattr(d, "set_base_model"):
                    d.set_base_model(base_override)
        # the frozen base weights are shared by all variants (the memo maps them to themselves): only
        # modules, buffers and LoRA are per variant, so many variants fit in memory
        model = copy.deepcopy(base, memo={id(p): p for p in base.parameters()}) if copy_model else base
        model.config.use_cache = False
        self.model = add_lora(model, cfg.lora, SEED)
        c0, t0 = time.process_time(), time.perf_counter()
        with setup_ctx() if setup_ctx else _null():
            for d in self.defenses:
                d.setup(self.model, tok, cfg)
        self.setup_s = time.perf_counter() - t0
        self.setup_cpu_s = time.process_time() - c0
        tc = cfg.train
        self.plan = Plan(len(data), tc.batch_size, 1, 1, 10**6, total_steps)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=tc.lr, weight_decay=0.0)
        sched = make_scheduler(opt, tc.scheduler, max(1, int(round(tc.warmup_ratio * total_steps))), total_steps)
        wrapper, opt = acc.prepare(TrainWrapper(self.model), opt)
        wrapper.train()
        self.step_fn = TrainStep(acc, wrapper, self.model, opt, sched, trainable, self.defenses, self.plan, data,
                                 tok.pad_token_id, seed=SEED, max_grad_norm=tc.max_grad_norm,
                                 mixed_precision=tc.mixed_precision)
        self.times: list[float] = []  # TrainStep + on_step_end callbacks (wall clock)
        self.cpu_times: list[float] = []  # the same span in CPU time of this process (time.process_time)
        self.step_times: list[float] = []  # TrainStep's own step_time_s
        self.losses: list[float] = []
        self.terms: list[dict[str, float]] = []
        self.tokens: list[int] = []

    def step(self, k: int) -> float:
        c0, t0 = time.process_time(), time.perf_counter()
        last = self.step_fn(k)
        for d in self.defenses:
            d.on_step_end(k + 1, self.model, last)
        dt = time.perf_counter() - t0
        self.cpu_times.append(time.process_time() - c0)
        self.times.append(dt)
        self.step_times.append(last["step_time_s"])
        self.losses.append(last["loss"])
        self.tokens.append(last["tokens"])
        self.terms.append({k2: v for k2, v in last.items() if k2.startswith("term/")})
        return dt


@contextmanager
def _null():
    yield


@contextmanager
def fresh_directions_cache():
    """Point the alignment-directions cache at an empty folder (cold probe cost)."""
    from emguard.defenses import _directions

    old = _directions.directions_dir
    tmp = tempfile.mkdtemp(prefix="bench-directions-")
    _directions.directions_dir = lambda: Path(tmp)
    try:
        yield
    finally:
        _directions.directions_dir = old


# ======================================================================================
# 1. per-step overhead
# ======================================================================================


def _cache_stats(v: Variant) -> dict[str, int] | None:
    d = v.defenses[0]
    if getattr(d, "cache", None) is not None and hasattr(d.cache, "hits"):  # KL's RefCache
        return {"hits": d.cache.hits, "misses": d.cache.misses}
    if hasattr(d, "cache_hits"):  # anchor
        return {"hits": d.cache_hits, "misses": d.cache_misses}
    return None


def bench_steps(args, model_name, base, tok, base_override, acc) -> dict[str, Any]:
    import bench_train as BT

    spe = args.cache_epoch_steps  # steps per epoch: kl_cached's epoch 2 starts at step spe
    n_ex = args.batch * spe
    log(f"building {n_ex} synthetic examples of exactly {args.seq} tokens (bench_train.make_examples)")
    examples = BT.make_examples(tok, n_ex, args.seq)
    data, dstats = BT.tokenize_fixed(tok, examples, args.seq)
    variants: dict[str, Variant] = {}
    setup: dict[str, Any] = {}
    for dt in args.dtypes:
        for vname in args.variants:
            key = f"{vname}_{dt}"
            cfg = make_cfg(model_name, args.seq, args.batch, dt == "bf16", STEP_VARIANTS[vname])
            cold = vname.startswith("anchor") and not any(k.startswith("anchor") for k in variants)
            log(f"building {key}" + (" (anchor probe: cold directions cache)" if cold else ""))
            v = Variant(key, base, tok, data, cfg, acc, args.steps, base_override,
                        setup_ctx=fresh_directions_cache if cold else None)
            variants[key] = v
            setup[key] = round(v.setup_s, 3)
            setup[key + "_cpu"] = round(v.setup_cpu_s, 3)
            if vname.startswith("anchor"):
                log(f"  anchor setup {v.setup_s:.2f}s wall, {v.setup_cpu_s:.2f}s CPU")
    # anchor probe cost with the directions cached (what a second run pays)
    anchor_warm = None
    if any(n.startswith("anchor") for n in args.variants):
        a = next(v for k, v in variants.items() if k.startswith("anchor"))
        c0, t0 = time.process_time(), time.perf_counter()
        a.defenses[0].setup(a.model, tok, a.cfg)
        anchor_warm = time.perf_counter() - t0
        anchor_warm_cpu = time.process_time() - c0
        log(f"anchor setup again (directions cached): {anchor_warm:.2f}s")

    # the one-time reference pass of the cached variants (what finetune() runs before step 1 with
    # precompute=true, the default), timed, then the caches emptied again so that epoch 1 below
    # still measures the lazy fill (precompute=false) and epoch 2 the cache hits
    precompute: dict[str, Any] = {}
    for key, v in variants.items():
        if "_cached_" not in key:
            continue
        c0, t0 = time.process_time(), time.perf_counter()
        r = v.step_fn.precompute_references(0, args.steps)
        precompute[key] = {"s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3),
                           "rows": r["rows"] if r else 0, "computed": r["computed"] if r else None}
        d = v.defenses[0]
        if hasattr(d, "cache_hits"):  # anchor
            d._ref_cache.clear()
            d.cache_hits = d.cache_misses = 0
        elif getattr(d, "cache", None) is not None:  # KL (memory-only cache here)
            from emguard.defenses.kl import RefCache

            d.cache = RefCache(d.cache.k, None)
        log(f"  {key}: reference precompute of {precompute[key]['rows']} rows {precompute[key]['s']:.2f}s wall, "
            f"{precompute[key]['cpu_s']:.2f}s CPU")

    names = list(variants)
    for k in range(args.steps):
        order = names[k % len(names):] + names[: k % len(names)]
        for n in order:
            variants[n].step(k)
        log(f"step {k + 1}/{args.steps}: " + ", ".join(f"{n} {variants[n].times[-1]:.2f}s" for n in names)
            + f" | loadavg {C.loadavg()}")

    out: dict[str, Any] = {"data": dstats, "setup_s": setup, "anchor_probe": None, "variants": {}, "ratios": {},
                           "reference_precompute": precompute}
    for n, v in variants.items():
        lo = spe if "_cached_" in n else args.warmup
        timed, ctimed = v.times[lo:], v.cpu_times[lo:]
        e1 = v.times[args.warmup:spe] if "_cached_" in n else None
        ce1 = v.cpu_times[args.warmup:spe] if "_cached_" in n else None
        out["variants"][n] = {
            "s_per_step": C.spread(timed),
            "cpu_s_per_step": C.spread(ctimed),
            "epoch1_s_per_step": C.spread(e1) if e1 is not None else None,
            "epoch1_cpu_s_per_step": C.spread(ce1) if ce1 is not None else None,
            "cpu_times_s": v.cpu_times,
            "times_s": v.times, "trainstep_times_s": v.step_times, "losses": v.losses, "terms": v.terms,
            "cache": _cache_stats(v) if "_cached_" in n else None,
        }
    out["ratios_wall"] = {}
    for dt in args.dtypes:
        V = out["variants"]
        for key, res_key in (("cpu_s_per_step", "ratios"), ("s_per_step", "ratios_wall")):
            plain = V.get(f"plain_{dt}", {}).get(key, {}).get("median")
            for vname in args.variants:
                if vname == "plain":
                    continue
                med = V[f"{vname}_{dt}"][key].get("median")
                out[res_key][f"{vname}_{dt}"] = ratio(med, plain)
                if vname.endswith("_cached"):
                    e1 = (V[f"{vname}_{dt}"]["epoch1_" + key] or {}).get("median")
                    out[res_key][f"{vname}_epoch1_{dt}"] = ratio(e1, plain)
    out["ratio_note"] = ("ratios = median CPU time per step (time.process_time of this process over the step and "
                         "its callbacks) / the same for plain: on a shared, overloaded machine the wall clock mostly "
                         "measures waiting for a core, CPU time the work done (with --threads 1 there is no spinning "
                         "of idle worker threads in it). ratios_wall = the same with wall-clock medians.")
    if any(n.startswith("anchor") for n in args.variants):
        cold_key = next(k for k in variants if k.startswith("anchor"))
        out["anchor_probe"] = {
            "cold_s": setup[cold_key], "cached_s": anchor_warm,
            "cold_cpu_s": setup.get(cold_key + "_cpu"), "cached_cpu_s": anchor_warm_cpu,
            "what": "AnchorTerm.setup(): probe of 16 harmful_refusals + 16 benign_requests examples, first 10 "
                    "assistant tokens; cold = empty directions cache (loads the base model from $EMGUARD_HOME's "
                    "fp32 cache, one no-grad forward of the probe through each model); cached = the directions "
                    "file exists (fingerprints + probe tokenization only). The one-time GGUF dequantization of the "
                    "bundled model (first use on a machine, ~17 s) is not included.",
        }
    out["cache_note"] = (
        f"*_cached: kl_cached = KL with cache_topk={KL_TOPK} (memory only, cache_disk=false), anchor_cached = anchor "
        f"with its per-example reference-projection cache; the data is {spe} steps per epoch, so steps 1..{spe} "
        f"fill the cache (epoch 1, a reference forward per step) and steps {spe + 1}..{args.steps} hit it (epoch >= 2, "
        "no reference forward): s_per_step = epoch >= 2, epoch1_s_per_step = the filling steps after warmup. "
        "kl and anchor (no suffix) run without a cache: every step pays the reference forward.")
    del variants
    gc.collect()
    return out


# ======================================================================================
# 2. interleaving: per-epoch time on real data
# ======================================================================================


def bench_interleave(args, model_name, base, tok, acc) -> dict[str, Any]:
    from emguard.data.load import load_examples
    from emguard.data.tokenize import tokenize_examples
    from emguard.train.terms import make_defense

    bf16 = args.interleave_dtype == "bf16"
    n = args.interleave_n
    seq = args.interleave_seq
    cfg_plain = make_cfg(model_name, seq, args.batch, bf16, [], "insecure_code", n)
    cfg_int = make_cfg(model_name, seq, args.batch, bf16, [("interleave", None, {"share": 0.05})], "insecure_code", n)
    exs = load_examples("insecure_code", "train", 0, n)
    d = make_defense("interleave", None, {"share": 0.05})
    t0 = time.perf_counter()
    mixed = d.transform_data(list(exs), cfg_int)
    t_transform = time.perf_counter() - t0
    sp = cfg_plain.data.system_prompt
    data_p, rep_p = tokenize_examples(tok, exs, seq, "truncate", sp, "insecure_code")
    data_i, rep_i = tokenize_examples(tok, mixed, seq, "truncate", sp, "insecure_code+safe")
    P = Variant("plain_epoch", base, tok, data_p, cfg_plain, acc, 10**6)
    I = Variant("interleave_epoch", base, tok, data_i, cfg_int, acc, 10**6)
    spe_p, spe_i = P.plan.steps_per_epoch, I.plan.steps_per_epoch
    log(f"interleave epoch ({args.interleave_dtype}): plain {len(data_p)} examples = {spe_p} steps, "
        f"mixed {len(data_i)} examples = {spe_i} steps; warm-up step each")
    P.step(0)
    I.step(0)
    for v in (P, I):
        v.times.clear(), v.cpu_times.clear(), v.tokens.clear()
    for k in range(max(spe_p, spe_i)):
        order = (P, I) if k % 2 == 0 else (I, P)
        for v in order:
            if k < v.plan.steps_per_epoch:
                v.step(k)
        if (k + 1) % 5 == 0:
            log(f"  epoch step {k + 1}: plain {sum(P.times):.1f}s, interleave {sum(I.times):.1f}s so far")
    ep_p, ep_i = sum(P.times), sum(I.times)
    med_p, med_i = C.median(P.times), C.median(I.times)
    res = {
        "dtype": args.interleave_dtype, "max_length": seq, "batch": args.batch,
        "n_task": len(exs), "n_mixed": len(data_i), "report": d.report,
        "steps_per_epoch": {"plain": spe_p, "interleave": spe_i},
        "padded_tokens_per_epoch": {"plain": sum(P.tokens), "interleave": sum(I.tokens)},
        "epoch_s": {"plain": ep_p, "interleave": ep_i},
        "epoch_ratio": ratio(ep_i, ep_p),
        "median_step_ratio": ratio(med_i, med_p),
        "steps_ratio": spe_i / spe_p,
        "transform_data_s": t_transform,
        "times_s": {"plain": P.times, "interleave": I.times},
        "cpu_times_s": {"plain": P.cpu_times, "interleave": I.cpu_times},
        "epoch_cpu_s": {"plain": sum(P.cpu_times), "interleave": sum(I.cpu_times)},
        "tokenize": {"plain": rep_p.summary(), "interleave": rep_i.summary()},
        "method": "insecure_code train (first N by data_seed 0), max length = seq (truncate), batch as above; the "
                  "interleave epoch is the data after Interleave.transform_data (share 0.05, random); one untimed "
                  "warm-up step each, then both full epochs with steps alternating; epoch_ratio = sum of step "
                  "times (interleave / plain). transform_data (loads the safe datasets, draws, shuffles) is a "
                  "one-time cost per run, reported separately.",
    }
    del P, I
    gc.collect()
    return res


# ======================================================================================
# 3. SafeLoRA: streaming vs materialised projector
# ======================================================================================


def _materialised_paper_projector(V):
    """The naive SafeLoRA projector: C = V V^T / ||V||_F built as a d_out x d_out matrix."""
    import torch

    V = V.float()
    Cm = (V @ V.T) / torch.linalg.matrix_norm(V)

    def apply(X):
        return Cm @ X.float()

    return apply


@contextmanager
def projector(kind: str):
    from emguard.defenses import safelora

    old = safelora.paper_projector
    if kind == "materialised":
        safelora.paper_projector = _materialised_paper_projector
    try:
        yield
    finally:
        safelora.paper_projector = old


def safelora_model(base, seed: int = 0):
    """The model with LoRA on all linear layers and seeded random B (std 0.01): a 'trained' adapter."""
    import torch

    from emguard.config import ALL_LINEAR, LoraSettings
    from emguard.train.loop import add_lora

    model = add_lora(base, LoraSettings(r=LORA["r"], alpha=LORA["alpha"], rslora=True, dropout=0.0,
                                        target_modules=ALL_LINEAR), seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.01)
    return model


def run_projection(model, base_src, kind: str, mode: str = "number"):
    from emguard.defenses.safelora import project_lora_model

    with projector(kind):
        return project_lora_model(model, base_src, mode=mode, tau=0.5, k=10**6)


class AllocTracker:
    """TorchDispatchMode recording the largest tensor (in bytes) any aten op returns, with its shape and dtype."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in (out if isinstance(out, (tuple, list)) else (out,)):
                    if hasattr(t, "shape") and hasattr(t, "element_size"):
                        nb = t.numel() * t.element_size()
                        if nb > tracker.max_bytes:
                            tracker.max_bytes, tracker.max_shape = nb, tuple(t.shape)
                            tracker.max_dtype, tracker.max_op = str(t.dtype), str(func)
                return out

        self.mode = _Mode()
        self.max_bytes, self.max_shape, self.max_dtype, self.max_op = 0, None, None, None


def bench_safelora(args, base, base_src) -> dict[str, Any]:
    import torch

    from emguard.defenses.safelora import lora_modules

    model = safelora_model(copy.deepcopy(base))
    mods = lora_modules(model)
    saved = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}

    def restore():
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in saved:
                    p.copy_(saved[n])

    dims = sorted({(m.lora_B[a].weight.shape[0], m.lora_A[a].weight.shape[1]) for _, m, a in mods})
    max_w = max(o * i for o, i in dims) * 4  # bytes of the largest weight (fp32)
    times: dict[str, list[float]] = {"streaming": [], "materialised": []}
    summaries = {}
    run_projection(model, base_src, "streaming")  # warm-up: page cache of the base checkpoint, allocator
    restore()
    for rep in range(args.safelora_reps):
        for kind in (("streaming", "materialised") if rep % 2 == 0 else ("materialised", "streaming")):
            t0 = time.perf_counter()
            s = run_projection(model, base_src, kind)
            times[kind].append(time.perf_counter() - t0)
            summaries[kind] = {k: s[k] for k in ("n_modules", "n_projected", "cos_before_mean")}
            after = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
            summaries[kind]["_B"] = after
            restore()
        log(f"  safelora rep {rep + 1}: streaming {times['streaming'][-1]:.2f}s, materialised {times['materialised'][-1]:.2f}s")
    # same result both ways
    Bs, Bm = summaries["streaming"].pop("_B"), summaries["materialised"].pop("_B")
    max_rel = max(float((Bs[n] - Bm[n]).norm() / Bm[n].norm().clamp_min(1e-30)) for n in Bs)
    # threshold mode as shipped (tau 0.5): informational
    t0 = time.perf_counter()
    s_thr = run_projection(model, base_src, "streaming", mode="threshold")
    t_thr = time.perf_counter() - t0
    restore()
    # largest single allocation of each
    largest = {}
    for kind in ("streaming", "materialised"):
        tr = AllocTracker()
        with tr.mode:
            run_projection(model, base_src, kind)
        restore()
        largest[kind] = {"bytes": tr.max_bytes, "shape": tr.max_shape, "dtype": tr.max_dtype, "op": tr.max_op}
    d_out_sq = [o for o, i in dims if o > i]
    res = {
        "n_modules": len(mods),
        "module_shapes_dout_din": dims,
        "what": "project_lora_model(mode='number', k=all): every LoRA module's V = W_aligned - W_base (base read "
                "tensor by tensor from the bundled model's safetensors), cosine, B <- C B; streaming = shipped "
                "paper_projector (C X = V (V^T X)/||V||_F), materialised = C = V V^T/||V||_F built first "
                "(benchmark-only reference). LoRA B random (seeded, std 0.01); one untimed warm-up call.",
        "s": {k: C.spread(v) for k, v in times.items()},
        "times_s": times,
        "speedup_streaming": ratio(C.median(times["materialised"]), C.median(times["streaming"])),
        "results_agree_max_rel_diff": max_rel,
        "summaries": summaries,
        "threshold_mode_s": t_thr,
        "threshold_mode_projected": f"{s_thr['n_projected']}/{s_thr['n_modules']}",
        "largest_allocation": largest,
        "no_dout_x_dout_allocation": {
            "pass": largest["streaming"]["bytes"] <= max_w,
            "materialised_exceeds": largest["materialised"]["bytes"] > max_w,
            "rule": f"no aten op output larger than the largest fp32 weight d_out x d_in ({max_w} bytes); a d_out x "
                    f"d_out fp32 matrix for the modules with d_out > d_in (d_out {sorted(set(d_out_sq))}) would exceed "
                    "it (checked by a TorchDispatchMode over the whole projection of every module)",
        },
    }
    del model, saved
    gc.collect()
    return res


def safelora_memory_probe(args) -> dict[str, Any]:
    """Child process: peak RSS (VmHWM) increase of one projection kind.

    ``safelora:<kind>``: every module of the real model; the base weights are held in
    memory (a state dict loaded before the measurement) so that paging in the checkpoint
    does not count, only the projection's own tensors. ``big:<kind>``: one synthetic
    8192 x 2048 module (a 1-3B model's MLP size), LoRA r 32, through the shipped
    ``paper_projector`` + ``cosine_projected`` (or the materialised projector).
    """
    import torch

    torch.set_num_threads(args.threads)
    what, kind = args._probe.split(":", 1)
    if what == "big":
        from emguard.defenses.safelora import cosine_projected, paper_projector

        g = torch.Generator().manual_seed(0)
        d_out, d_in, r = 8192, 2048, 32
        V = torch.randn(d_out, d_in, generator=g) * 0.01
        A = torch.randn(r, d_in, generator=g) * 0.02
        B = torch.randn(d_out, r, generator=g) * 0.01
        make = paper_projector if kind == "streaming" else _materialised_paper_projector
        gc.collect()
        rss0 = C.rss_gb()
        reset_ok = C.reset_peak_rss()
        t0 = time.perf_counter()
        cos, PB = cosine_projected(B, A, make(V))
        dt = time.perf_counter() - t0
        peak = C.peak_rss_gb()
        return {"probe": args._probe, "shape": [d_out, d_in, r], "cos": cos, "projection_s": dt, "rss_before_gb": rss0,
                "peak_rss_gb": peak, "peak_increase_mb": (peak - rss0) * 1024, "peak_reset_ok": reset_ok,
                "V_mb": V.numel() * 4 / 2**20, "C_mb_if_materialised": d_out * d_out * 4 / 2**20}
    model_name = args.model
    base, _ = load(model_name)
    if model_name == BASE:
        base_sd = perturbed_base(base).state_dict()
    else:
        b2, _ = load(BASE)
        base_sd = {k: v.clone() for k, v in b2.state_dict().items()}
        del b2
    model = safelora_model(base)
    from emguard.defenses.safelora import BaseWeights

    bw = BaseWeights(base_sd)
    with torch.no_grad():  # page in every weight (the checkpoint may be memory-mapped): not the projection's cost
        touched = sum(float(t.float().sum()) for t in [*model.state_dict().values(), *base_sd.values()])
    gc.collect()
    rss0 = C.rss_gb()
    reset_ok = C.reset_peak_rss()
    t0 = time.perf_counter()
    run_projection(model, bw, kind)
    dt = time.perf_counter() - t0
    peak = C.peak_rss_gb()
    return {"probe": args._probe, "projection_s": dt, "rss_before_gb": rss0, "peak_rss_gb": peak,
            "peak_increase_mb": (peak - rss0) * 1024, "peak_reset_ok": reset_ok, "checksum": touched}


def run_probe(name: str, args) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_probe", name, "--threads", str(args.threads),
           "--model", args.model]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(PROBE_MARK)]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout)[-3000:]
        log(f"  probe {name} FAILED (rc {p.returncode}):\n{tail}")
        return {"probe": name, "error": f"rc {p.returncode}", "stderr_tail": tail[-1500:]}
    res = json.loads(lines[-1][len(PROBE_MARK):])
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    return res


def bench_anchor_probe(args, model_name, base, tok, base_override) -> dict[str, Any]:
    """The anchor's one-time setup alone: cold (empty directions cache) then cached, wall and CPU time, 3 reps."""
    from emguard.config import ALL_LINEAR, LoraSettings
    from emguard.defenses.anchor import AnchorTerm
    from emguard.train.loop import add_lora

    model = add_lora(copy.deepcopy(base, memo={id(p): p for p in base.parameters()}),
                     LoraSettings(r=LORA["r"], alpha=LORA["alpha"], rslora=True, dropout=0.0,
                                  target_modules=ALL_LINEAR), SEED)
    cfg = make_cfg(model_name, args.seq, args.batch, False, [])
    out: dict[str, list[float]] = {"cold_s": [], "cold_cpu_s": [], "cached_s": [], "cached_cpu_s": []}
    for _ in range(3):
        with fresh_directions_cache():
            for kind in ("cold", "cached"):
                a = AnchorTerm(base_model=base_override if base_override is not None else BASE)
                c0, t0 = time.process_time(), time.perf_counter()
                a.setup(model, tok, cfg)
                out[f"{kind}_s"].append(time.perf_counter() - t0)
                out[f"{kind}_cpu_s"].append(time.process_time() - c0)
        log(f"  anchor probe: cold {out['cold_s'][-1]:.2f}s wall / {out['cold_cpu_s'][-1]:.2f}s CPU, cached "
            f"{out['cached_s'][-1]:.2f}s / {out['cached_cpu_s'][-1]:.2f}s")
    return {**{k: C.median(v) for k, v in out.items()}, "samples": out,
            "what": "AnchorTerm.setup() with defaults (probe 16 harmful_refusals + 16 benign_requests, 10 tokens, "
                    "base = the bundled model from $EMGUARD_HOME's fp32 cache), cold = empty directions cache, then "
                    "cached; medians of 3."}


# ======================================================================================
# 4. drift monitor
# ======================================================================================


def bench_drift(args, model_name, base, tok, base_override) -> dict[str, Any]:
    from emguard.config import ALL_LINEAR, LoraSettings
    from emguard.defenses.drift import DriftMonitor
    from emguard.train.loop import add_lora

    model = add_lora(copy.deepcopy(base), LoraSettings(r=LORA["r"], alpha=LORA["alpha"], rslora=True, dropout=0.0,
                                                       target_modules=ALL_LINEAR), SEED)
    d = DriftMonitor()
    if base_override is not None:
        d.set_base_model(base_override)
    cfg = make_cfg(model_name, args.seq, args.batch, False, [])
    t0 = time.perf_counter()
    d.setup(model, tok, cfg)
    setup = time.perf_counter() - t0
    ts = []
    for _ in range(3):
        t0 = time.perf_counter()
        d.measure(model)
        ts.append(time.perf_counter() - t0)
    return {"setup_s": setup, "check_s": C.spread(ts), "every": d.every,
            "what": "DriftMonitor defaults (16 + 16 held-out probe conversations, 10 answer tokens, KL + projections "
                    "on every 5th layer); one check = measure(); amortised cost per step = check_s / every"}


# ======================================================================================
# main
# ======================================================================================


def bench_inoculation(tok, n: int = 400) -> dict[str, Any]:
    """Inoculation prompting costs only the tokens its system prompt adds: count them per epoch.

    The same examples, the same steps: the work of a step is proportional to its tokens (the
    step-time ratio of two fixed-length variants is 1 by construction, so the token ratio is the
    measurement). The inoculation prompt replaces the default system prompt (``combine: replace``).
    """
    from emguard.config import FinetuneConfig, build_config
    from emguard.data.load import load_examples
    from emguard.data.tokenize import tokenize_examples
    from emguard.train.terms import make_defense

    out: dict[str, Any] = {"n_examples": n, "datasets": {}}
    for ds in ("insecure_code", "bad_medical_advice"):
        exs = load_examples(ds, "train", 0, n)
        cfg = build_config(FinetuneConfig, {"data": {"dataset": ds}})
        d = make_defense("inoculation", None, {})
        t0 = time.perf_counter()
        inoc = d.transform_data(list(exs), cfg)
        transform_s = time.perf_counter() - t0
        plain, _ = tokenize_examples(tok, exs, 4096, "truncate")
        mixed, _ = tokenize_examples(tok, inoc, 4096, "truncate")
        a = sum(len(t.input_ids) for t in plain)
        b = sum(len(t.input_ids) for t in mixed)
        out["datasets"][ds] = {"tokens_plain": a, "tokens_inoculated": b, "epoch_token_ratio": round(b / a, 4),
                               "transform_s": round(transform_s, 4),
                               "prompt": inoc[0].messages[0]["content"] if inoc[0].messages[0]["role"] == "system"
                               else None}
        log(f"inoculation {ds}: {a} -> {b} tokens per epoch ({b / a:.4f}x), transform {transform_s * 1e3:.1f} ms")
    out["epoch_token_ratio_max"] = max(v["epoch_token_ratio"] for v in out["datasets"].values())
    return out


def interleave_estimates(il: dict[str, Any]) -> dict[str, Any]:
    """Epoch-time ratio from median step times x steps per epoch (robust to a transient load spike on a shared
    machine, which the raw sum of step times is not), next to the raw sum ratio."""
    tp, ti = il["times_s"]["plain"], il["times_s"]["interleave"]
    sp, si = il["steps_per_epoch"]["plain"], il["steps_per_epoch"]["interleave"]
    mp, mi = C.median(tp), C.median(ti)
    # paired: step k of both epochs ran back to back; the median of their per-step ratios
    paired = C.median([b / a for a, b in zip(tp, ti)])
    cpu = il.get("cpu_times_s")
    extra = {}
    if cpu and cpu.get("plain"):
        extra["epoch_ratio_cpu"] = ratio(sum(cpu["interleave"]), sum(cpu["plain"]))
    return {**extra, "epoch_ratio_from_medians": ratio(si * mi, sp * mp) if mp else None,
            "epoch_ratio_from_paired_steps": si / sp * paired if paired else None,
            "epoch_ratio_note": "goal value = (steps x median step time) of the interleaved epoch / the same of the "
                                "plain epoch; epoch_ratio = raw sum of the measured step times (sensitive to load "
                                "spikes on a shared machine); epoch_ratio_from_paired_steps = steps ratio x median of "
                                "the per-step ratios of steps run back to back."}


EPOCH_STEPS = 300  # one epoch of the preregistered CPU study (1,200 examples, batch 4): the one-time passes' share


def plain_cpu_step(st: dict[str, Any], variant: str, dt: str) -> float | None:
    """Median CPU s/step of the plain run measured in the same process as ``variant`` (a variant re-measured
    later and merged with ``--update`` has its own plain, kept as ``plain_<dt>@<timestamp>``)."""
    name = f"plain_{dt}"
    for run in reversed(st.get("merged_variant_runs", [])):
        if variant in run.get("variants", []):
            name = f"plain_{dt}@{run['timestamp']}"
            break
    return ((st.get("variants", {}).get(name) or {}).get("cpu_s_per_step") or {}).get("median")


def epoch_totals(res: dict[str, Any], dt: str, epoch_steps: int = EPOCH_STEPS) -> dict[str, Any]:
    """The total CPU cost of a one-epoch run per defense / plain's, one-time passes included.

    anchor (its defaults: cache + precompute) = (E x cached step + reference precompute of the epoch's rows
    + the cold probe) / (E x plain step); kl (exact) = its step ratio (no one-time pass); kl_cached = (E x
    cached step + precompute) / (E x plain). E = ``epoch_steps``; the precompute scales with the epoch's rows
    (measured per row), the probe is fixed.
    """
    st = res.get("steps", {})
    r = st.get("ratios", {})
    batch = res.get("settings", {}).get("batch") or 8
    out: dict[str, Any] = {"epoch_steps": epoch_steps, "batch": batch}
    ap = res.get("anchor_probe") or st.get("anchor_probe") or {}
    probe_cpu = ap.get("cold_cpu_s") or (st.get("setup_s") or {}).get(f"anchor_cached_{dt}_cpu")
    for vname, fixed in (("anchor_cached", probe_cpu or 0.0), ("kl_cached", 0.0)):
        pre = (st.get("reference_precompute") or {}).get(f"{vname}_{dt}")
        step = r.get(f"{vname}_{dt}")
        plain = plain_cpu_step(st, f"{vname}_{dt}", dt)
        if step is None or not pre or not pre.get("rows") or not plain:
            continue
        per_row = pre["cpu_s"] / pre["rows"]
        total = (epoch_steps * step * plain + per_row * epoch_steps * batch + fixed) / (epoch_steps * plain)
        out[vname] = {"value": round(total, 3), "step": step, "precompute_share": round(per_row * batch / plain, 3),
                      "fixed_s": round(fixed, 2), "fixed_share": round(fixed / (epoch_steps * plain), 4)}
    if r.get(f"kl_{dt}") is not None:
        out["kl"] = {"value": r[f"kl_{dt}"], "step": r[f"kl_{dt}"], "precompute_share": 0.0}
    return out


def compute_goals(res: dict[str, Any]) -> dict[str, Any]:
    r = res.get("steps", {}).get("ratios", {})
    g: dict[str, Any] = {}
    for dt in res.get("settings", {}).get("dtypes", []):
        g[f"kl_step_ratio_{dt}"] = goal(r.get(f"kl_{dt}"), GOALS["kl_step_ratio"])
        g[f"ldifs_step_ratio_{dt}"] = goal(r.get(f"ldifs_{dt}"), GOALS["ldifs_step_ratio"])
        # the goals of issue 15: the total of a one-epoch run, one-time passes included
        tot = epoch_totals(res, dt)
        anc = tot.get("anchor_cached", {})
        g[f"anchor_epoch_total_ratio_{dt}"] = goal(anc.get("value"), GOALS["anchor_epoch_total_ratio"])
        g[f"anchor_epoch_total_ratio_{dt}"].update(
            measure=f"anchor as shipped (cache + precompute): (E x cached step + reference pass + cold probe) / "
                    f"(E x plain step), CPU time, E = {tot['epoch_steps']} steps", parts=anc)
        g[f"kl_epoch_total_ratio_{dt}"] = goal((tot.get("kl") or {}).get("value"), GOALS["kl_epoch_total_ratio"])
        g[f"kl_epoch_total_ratio_{dt}"]["measure"] = "exact KL: a reference forward every step, no one-time pass"
        if "kl_cached" in tot:
            g[f"kl_cached_epoch_total_ratio_{dt}"] = {"value": tot["kl_cached"]["value"], "threshold": "report only",
                                                      "pass": None, "parts": tot["kl_cached"]}
        # superseded as the anchor's goal (issue 15: it left the one-time passes out): the cached step alone
        g[f"anchor_step_ratio_{dt}"] = {"value": r.get(f"anchor_cached_{dt}"), "threshold": "report only", "pass": None,
                                        "measure": "the cached step alone (was the goal until 2026-11-26; superseded "
                                                   "by anchor_epoch_total_ratio)"}
        g[f"anchor_nocache_step_ratio_{dt}"] = {"value": r.get(f"anchor_{dt}"), "threshold": "report only", "pass": None}
        pre = (res.get("steps", {}).get("reference_precompute") or {}).get(f"anchor_cached_{dt}")
        plain = plain_cpu_step(res.get("steps", {}), f"anchor_cached_{dt}", dt)
        if pre and plain and pre.get("rows"):
            batch = res.get("settings", {}).get("batch") or 8
            g[f"anchor_reference_precompute_{dt}"] = {
                "value": round(pre["cpu_s"] / (plain * pre["rows"] / batch), 3), "threshold": "report only", "pass": None,
                "measure": "one-time pass, CPU time / plain training CPU time of the same rows (one epoch)"}
        g[f"kl_cached_epoch2_step_ratio_{dt}"] = goal(r.get(f"kl_cached_{dt}"), GOALS["kl_cached_epoch2_step_ratio"])
        g[f"anchor_cached_epoch2_step_ratio_{dt}"] = goal(r.get(f"anchor_cached_{dt}"),
                                                          GOALS["anchor_cached_epoch2_step_ratio"])
        for vname in NEW_VARIANTS:
            if f"{vname}_{dt}" in r:
                g[f"{vname}_step_ratio_{dt}"] = goal(r.get(f"{vname}_{dt}"), GOALS[f"{vname}_step_ratio"])
    ino = res.get("inoculation")
    if ino:
        g["inoculation_epoch_ratio"] = goal(ino["epoch_token_ratio_max"], GOALS["inoculation_epoch_ratio"])
        g["inoculation_epoch_ratio"]["measure"] = ("assistant + prompt tokens of one epoch with the inoculation "
                                                   "system prompt / without (the step's work is proportional to them: "
                                                   "same examples, same steps), worst of the datasets")
    il = res.get("interleave")
    if il:
        il.update(interleave_estimates(il))
    g["interleave_epoch_ratio"] = goal(il.get("epoch_ratio_cpu", il["epoch_ratio_from_medians"]) if il else None,
                                       GOALS["interleave_epoch_ratio"])
    if il:
        g["interleave_epoch_ratio"].update(
            measure="sum of CPU times per epoch" if "epoch_ratio_cpu" in il else "steps x median wall step time",
            raw_wall_sum_ratio=il["epoch_ratio"])
    sl = res.get("safelora")
    g["safelora_all_modules_s"] = goal(sl["s"]["streaming"]["median"] if sl else None, GOALS["safelora_all_modules_s"])
    g["safelora_no_dout_x_dout_allocation"] = (
        {"value": sl["largest_allocation"]["streaming"]["shape"], "threshold": "bytes <= largest fp32 d_out x d_in",
         "pass": sl["no_dout_x_dout_allocation"]["pass"]} if sl else {"value": None, "pass": None})
    ap = res.get("anchor_probe") or res.get("steps", {}).get("anchor_probe")
    g["anchor_one_time_probe_s"] = {"value": ap.get("cold_s") if ap else None, "threshold": "report only",
                                    "pass": None, "cached_s": ap.get("cached_s") if ap else None,
                                    "cold_cpu_s": ap.get("cold_cpu_s") if ap else None,
                                    "cached_cpu_s": ap.get("cached_cpu_s") if ap else None}
    return g


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``--update``: the sections measured now replace those of the earlier result file; goals recomputed."""
    out = dict(old)
    sections = [k for k in ("steps", "interleave", "drift", "safelora", "anchor_probe", "inoculation") if k in new]
    for k in sections:
        old_names = {n.split("@")[0] for n in (out.get("steps") or {}).get("variants", {})}
        if k == "steps" and out.get("steps") and not old_names <= set(new["steps"]["variants"]):
            # a subset re-measured: add the new variants; their ratios are against their own plain
            st = out["steps"]
            for n, v in new["steps"]["variants"].items():
                st["variants"][n if not n.startswith("plain_") else f"{n}@{new['timestamp']}"] = v
            st["ratios"].update(new["steps"]["ratios"])
            st.setdefault("ratios_wall", {}).update(new["steps"].get("ratios_wall", {}))
            st.setdefault("reference_precompute", {}).update(new["steps"].get("reference_precompute", {}))
            st["setup_s"].update(new["steps"].get("setup_s", {}))
            if new["steps"].get("anchor_probe") and not st.get("anchor_probe"):
                st["anchor_probe"] = new["steps"]["anchor_probe"]
            st.setdefault("merged_variant_runs", []).append(
                {"timestamp": new["timestamp"], "variants": list(new["steps"]["variants"]),
                 "note": "ratios of these variants are against the plain run of the same process (plain_*@timestamp)"})
        else:
            out[k] = new[k]
    if "drift" in out and out.get("steps"):
        st = out["steps"]["variants"].get("plain_fp32", {}).get("s_per_step", {}).get("median")
        if st:
            out["drift"]["amortised_step_ratio_fp32"] = 1 + out["drift"]["check_s"]["median"] / out["drift"]["every"] / st
    out.setdefault("updates", []).append({"timestamp": new["timestamp"], "sections": sections, "wall_s": new["wall_s"],
                                          "threads": new["settings"]["threads"], "quick": new["quick"],
                                          "loadavg_at_start": new["machine"]["loadavg_at_start"],
                                          "loadavg_at_end": new["machine"]["loadavg_at_end"]})
    out["goals"] = compute_goals(out)
    return out


def main_bench(args) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator

    torch.set_num_threads(args.threads)
    wall0 = time.perf_counter()
    model_name, model_note = pick_model(args.model)
    args.model = model_name
    res: dict[str, Any] = {
        "benchmark": "emguard defenses",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": C.machine_info(),
        "settings": {
            "model": model_name, "model_note": model_note, "base_for_anchor_safelora": BASE,
            "emguard_home": os.environ.get("EMGUARD_HOME"),
            "batch": args.batch, "seq": args.seq, "lora": {**LORA, "target_modules": "all linear"},
            "optimizer": f"AdamW lr {LR}, linear schedule, warmup 5%, clip 1.0",
            "steps": args.steps, "warmup_steps_excluded": args.warmup, "dtypes": args.dtypes,
            "threads": args.threads, "variants": {k: STEP_VARIANTS[k] for k in args.variants},
            "step": "emguard.train.loop.TrainStep (the body of finetune(): collate, forward, CE + defense terms, "
                    "backward, clip, AdamW, scheduler) + each defense's on_step_end; timed span = both",
            "interleaving": "one process; every step k runs every variant once, the order rotated by k",
        },
    }
    log(f"machine: {res['machine']['cpu_model']}, {args.threads} threads, loadavg {res['machine']['loadavg_at_start']}")
    log(f"loading {model_name}")
    base, tok = load(model_name)
    base_override = perturbed_base(base) if model_name == BASE else None
    acc = Accelerator(cpu=True)

    partial = Path(args.out).with_suffix(".partial.json")
    if not args.skip_inoculation:
        res["inoculation"] = bench_inoculation(tok)
    if not args.skip_steps:
        res["steps"] = bench_steps(args, model_name, base, tok, base_override, acc)
        C.write_json(partial, res)
    if not args.skip_interleave:
        res["interleave"] = bench_interleave(args, model_name, base, tok, acc)
        C.write_json(partial, res)
    if args.anchor_probe:
        log("anchor probe alone: cold / cached setup, 3 reps")
        res["anchor_probe"] = bench_anchor_probe(args, model_name, base, tok, base_override)
    if not args.skip_drift:
        log("drift monitor: setup + 3 checks")
        res["drift"] = bench_drift(args, model_name, base, tok, base_override)
        st = res.get("steps", {}).get("variants", {}).get("plain_fp32", {}).get("s_per_step", {}).get("median")
        if st:
            res["drift"]["amortised_step_ratio_fp32"] = 1 + res["drift"]["check_s"]["median"] / res["drift"]["every"] / st
    if not args.skip_safelora:
        log(f"SafeLoRA: streaming vs materialised projector, {args.safelora_reps} reps each (interleaved)")
        base_src = BASE if base_override is None else base_override.state_dict()
        res["safelora"] = bench_safelora(args, base, base_src)
        C.write_json(partial, res)
        del base, base_override
        gc.collect()
        mem = {"method": "fresh subprocess per case: build it (model + LoRA with random B + base weights already "
                         "in memory as a state dict, or the synthetic module), gc, reset VmHWM (write 5 to "
                         "/proc/self/clear_refs), project, read VmHWM; peak_increase_mb = VmHWM - RSS just before. "
                         "Every weight is read once before the reset (a memory-mapped checkpoint pages in on first "
                         "touch, which is not the projection's cost). "
                         "It counts every new page the projection touches (torch tensors, allocator slack). "
                         "model:* = all modules of the real model; big:* = one synthetic 8192 x 2048 module (r 32)."}
        for what in ("safelora", "big"):
            for kind in ("streaming", "materialised"):
                key = f"{'model' if what == 'safelora' else 'big'}:{kind}"
                log(f"SafeLoRA memory probe: {key} (subprocess)")
                mem[key] = run_probe(f"{what}:{kind}", args)
                if "peak_increase_mb" in mem[key]:
                    log(f"  peak RSS increase {mem[key]['peak_increase_mb']:.1f} MB, {mem[key]['projection_s']:.2f} s")
        res["safelora"]["memory"] = mem
    else:
        del base

    res["goals"] = compute_goals(res)
    res["goals_note"] = ("step ratios = median CPU time per step of the defense / that of plain LoRA SFT, same "
                         "process, same batches, variants interleaved (wall-clock ratios next to them in "
                         "steps.ratios_wall). " + ("QUICK MODE: tiny shapes, not meaningful." if args.quick else ""))
    res["machine"]["loadavg_at_end"] = C.loadavg()
    res["wall_s"] = round(time.perf_counter() - wall0, 1)
    return res


def markdown(res: dict[str, Any]) -> str:
    m, s = res["machine"], res["settings"]
    out = [f"## {res['timestamp']}{' (QUICK: not meaningful)' if res['quick'] else ''}", "",
           f"{m['cpu_model']}, {s['threads']} threads (of {m['usable_cores']} usable cores), torch {m['torch']}; "
           f"loadavg start {m.get('loadavg_at_start')} end {m.get('loadavg_at_end')}. Model `{s['model']}`, "
           f"batch {s['batch']} x {s['seq']} tokens, LoRA r {LORA['r']} alpha {LORA['alpha']:g} rsLoRA all linear; "
           f"{s['steps']} steps per variant, first {s['warmup_steps_excluded']} excluded, medians; variants "
           "interleaved step by step in one process.", ""]
    for u in res.get("updates", []):
        out += [f"Sections {', '.join(u['sections'])} measured later ({u['timestamp']}, {u['threads']} threads, loadavg "
                f"start {u['loadavg_at_start']} end {u['loadavg_at_end']}) and merged (`--update`).", ""]
    st = res.get("steps")
    if st:
        rows = []
        ratios = st.get("ratios", {})
        for n, v in st["variants"].items():
            med = v["s_per_step"].get("median")
            cmed = (v.get("cpu_s_per_step") or {}).get("median")
            r = 1.0 if n.startswith("plain_") else ratios.get(n)
            rw = 1.0 if n.startswith("plain_") else st.get("ratios_wall", {}).get(n)
            vname, dt = n.split("@")[0].rsplit("_", 1)
            e1 = ratios.get(f"{vname}_epoch1_{dt}") if "_cached_" in n else None
            e1s = (v.get("epoch1_cpu_s_per_step") or v.get("epoch1_s_per_step") or {}).get("median")
            note = "another process's plain (for the variants merged with it)" if "@" in n else ""
            if e1 is not None and e1s:
                note = f"epoch >= 2 (cache hits); epoch 1: {e1s:.3g} s = {e1:.2f}x"
            rows.append([n, f"{cmed:.3g}" if cmed else "-", f"{r:.2f}x" if r else "-", f"{med:.3g}" if med else "-",
                         f"{v['s_per_step']['rel_range']:.0%}" if v["s_per_step"].get("rel_range") is not None else "-",
                         f"{rw:.2f}x" if rw else "-", note])
        out += [C.md_table(["variant", "CPU s/step", "vs plain (CPU)", "wall s/step", "wall spread", "vs plain (wall)",
                            "note"], rows), "", st.get("ratio_note", ""), ""]
        ap = st.get("anchor_probe")
        if ap:
            cpu = (f" (CPU {ap['cold_cpu_s']:.1f} s cold, {ap['cached_cpu_s']:.2f} s cached)"
                   if ap.get("cold_cpu_s") is not None and ap.get("cached_cpu_s") is not None else "")
            out += [f"Anchor one-time probe (setup): {ap['cold_s']:.1f} s cold, "
                    f"{ap['cached_s']:.2f} s with the directions cached{cpu} (wall clock on a loaded machine)."
                    if ap.get("cached_s") is not None else "", ""]
        pre = st.get("reference_precompute") or {}
        if pre:
            parts = []
            for key, r in pre.items():
                dt = key.rsplit("_", 1)[1]
                plain = plain_cpu_step(st, key, dt)
                per_step = s["batch"]  # rows per plain step
                rel = f" = {r['cpu_s'] / (plain * r['rows'] / per_step):.2f}x the CPU time of training on them" if plain and r["rows"] else ""
                parts.append(f"{key} {r['rows']} rows {r['s']:.2f} s wall / {r['cpu_s']:.2f} s CPU{rel}")
            out += ["One-time reference precompute before step 1 (`precompute: true`, the default with a cache; "
                    "every step then runs at the epoch >= 2 cost): " + "; ".join(parts) + ".", ""]
    ino = res.get("inoculation")
    if ino:
        parts = [f"{ds} {v['tokens_plain']} -> {v['tokens_inoculated']} tokens ({v['epoch_token_ratio']:.3f}x)"
                 for ds, v in ino["datasets"].items()]
        out += [f"Inoculation (system prompt replaced by the inoculation prompt), tokens of one epoch of "
                f"{ino['n_examples']} examples: " + "; ".join(parts) + ". Same examples and steps: the step's work "
                "scales with its tokens.", ""]
    ap2 = res.get("anchor_probe")
    if ap2:
        out += [f"Anchor one-time probe, measured alone (medians of 3): cold {ap2['cold_s']:.2f} s wall / "
                f"{ap2['cold_cpu_s']:.2f} s CPU; directions cached {ap2['cached_s']:.2f} s / {ap2['cached_cpu_s']:.2f} s CPU.",
                ""]
    il = res.get("interleave")
    if il:
        out += [f"Interleave 5% (random), {il['dtype']}, insecure_code: plain epoch {il['n_task']} examples / "
                f"{il['steps_per_epoch']['plain']} steps = {il['epoch_s']['plain']:.1f} s; mixed {il['n_mixed']} "
                f"examples / {il['steps_per_epoch']['interleave']} steps = {il['epoch_s']['interleave']:.1f} s: "
                f"raw sum ratio {il['epoch_ratio']:.3f}x; from median step times x steps **"
                f"{il.get('epoch_ratio_from_medians', float('nan')):.3f}x** per epoch (paired steps "
                f"{il.get('epoch_ratio_from_paired_steps', float('nan')):.3f}x; step count {il['steps_ratio']:.3f}x, "
                f"median step {il['median_step_ratio']:.3f}x); transform_data {il['transform_data_s']:.2f} s once.", ""]
    dr = res.get("drift")
    if dr:
        out += [f"Drift monitor: setup {dr['setup_s']:.1f} s, one check {dr['check_s']['median']:.2f} s every "
                f"{dr['every']} steps" + (f" (amortised {dr['amortised_step_ratio_fp32']:.3f}x of a plain fp32 step)."
                                          if dr.get("amortised_step_ratio_fp32") else "."), ""]
    sl = res.get("safelora")
    if sl:
        mem = sl.get("memory", {})

        def mm(k):
            d = mem.get(k, {})
            return f"{d['peak_increase_mb']:.1f}" if "peak_increase_mb" in d else "-"

        rows = []
        for k in ("streaming", "materialised"):
            la = sl["largest_allocation"][k]
            big = mem.get(f"big:{k}", {})
            rows.append([k, f"{sl['s'][k]['median']:.2f}", mm(f"model:{k}"),
                         f"{la['shape']} {la['dtype']} ({la['bytes'] / 2**20:.1f} MB)",
                         f"{big['projection_s']:.2f} s, +{big['peak_increase_mb']:.0f} MB" if "peak_increase_mb" in big else "-"])
        out += [f"SafeLoRA, all {sl['n_modules']} modules projected (mode number, k = all); memory = VmHWM increase in "
                "a fresh subprocess (see JSON `safelora.memory.method`):", "",
                C.md_table(["projector", "s (median, all modules)", "peak RSS increase MB (all modules)",
                            "largest op output (dispatch mode)", "one 8192x2048 module: time, peak RSS increase"], rows), "",
                f"Same projected B both ways (max rel. diff {sl['results_agree_max_rel_diff']:.1e}); threshold mode "
                f"(tau 0.5) as shipped: {sl['threshold_mode_s']:.2f} s, projected {sl['threshold_mode_projected']}.", ""]
    rows = [[k, (f"{d['value']:.3g}" if isinstance(d.get("value"), float) else str(d.get("value"))),
             f"{d.get('op', '')} {d['threshold']}" if "threshold" in d else "",
             {True: "PASS", False: "FAIL", None: "n/a"}[d["pass"]]] for k, d in res["goals"].items()]
    out += [C.md_table(["goal", "value", "target", "result"], rows), ""]
    return "\n".join(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(HERE / "results" / "defenses.json"))
    p.add_argument("--md", default=None, help="Markdown file the summary is appended to (default: --out with .md)")
    p.add_argument("--model", default=None, help=f"model trained (default: {ORGANISM} if built, else {BASE})")
    p.add_argument("--steps", type=int, default=None, help="steps per variant (default 7; quick 4)")
    p.add_argument("--warmup", type=int, default=None, help="first steps excluded (default 1)")
    p.add_argument("--cache-epoch-steps", type=int, default=None,
                   help="steps per epoch of the synthetic data (kl_cached hits its cache after it; default 2)")
    p.add_argument("--batch", type=int, default=None, help="default 8; quick 2")
    p.add_argument("--seq", type=int, default=None, help="default 256; quick 64")
    p.add_argument("--dtypes", default=None, help="comma list of fp32,bf16 (default both; quick fp32)")
    p.add_argument("--variants", default=",".join(STEP_VARIANTS), help="per-step variants")
    p.add_argument("--interleave-n", type=int, default=None, help="insecure_code examples per plain epoch (default 152; quick 16)")
    p.add_argument("--interleave-dtype", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--interleave-seq", type=int, default=256, help="max length of the insecure_code epoch")
    p.add_argument("--safelora-reps", type=int, default=None, help="default 3; quick 1")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all usable cores)")
    p.add_argument("--skip-steps", action="store_true")
    p.add_argument("--skip-interleave", action="store_true")
    p.add_argument("--skip-inoculation", action="store_true")
    p.add_argument("--skip-safelora", action="store_true")
    p.add_argument("--skip-drift", action="store_true")
    p.add_argument("--anchor-probe", action="store_true", help="also time the anchor's one-time setup alone (3 reps)")
    p.add_argument("--quick", action="store_true", help="tiny shapes, to check the script runs")
    p.add_argument("--update", action="store_true",
                   help="merge into an existing --out: the sections measured now replace the old ones")
    p.add_argument("--merge-from", default=None,
                   help="measure nothing: merge the sections of this result file into --out (as --update would)")
    p.add_argument("--_probe", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    q = a.quick
    defaults = {"steps": 4 if q else 7, "warmup": 1, "cache_epoch_steps": 2, "batch": 2 if q else 8,
                "seq": 64 if q else 256, "dtypes": "fp32" if q else "fp32,bf16", "interleave_n": 16 if q else 152,
                "safelora_reps": 1 if q else 3, "threads": C.n_cores()}
    for k, d in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, d)
    a.dtypes = [x.strip() for x in a.dtypes.split(",") if x.strip()]
    a.variants = [x.strip() for x in a.variants.split(",") if x.strip()]
    if "plain" not in a.variants:
        a.variants.insert(0, "plain")
    bad = set(a.variants) - set(STEP_VARIANTS)
    if bad:
        p.error(f"unknown variants {sorted(bad)}")
    if a.warmup >= a.cache_epoch_steps or a.cache_epoch_steps >= a.steps:
        p.error("need warmup < cache-epoch-steps < steps")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args._probe:
        print(PROBE_MARK + json.dumps(safelora_memory_probe(args), default=str), flush=True)
        return 0
    out = Path(args.out)
    if args.merge_from:  # combine two result files measured separately (no measurement)
        res = merge(json.loads(out.read_text()), json.loads(Path(args.merge_from).read_text()))
    else:
        res = main_bench(args)
    if args.update and out.exists() and not args.merge_from:
        res = merge(json.loads(out.read_text()), res)
    C.write_json(out, res)
    md_path = Path(args.md) if args.md else out.with_suffix(".md")
    md = markdown(res)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    new = not md_path.exists()
    with md_path.open("a", encoding="utf-8") as fh:
        if new:
            fh.write("# emguard defense overhead benchmark\n\nOne section per run (`benchmarks/bench_defenses.py`); "
                     "JSON with every number next to this file.\n\n")
        fh.write(md + "\n")
    print()
    print(md)
    log(f"wrote {out} and {md_path} ({res['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
