#!/usr/bin/env python
"""Generation and judging throughput of the evaluation pipeline, plus the CPU suite's wall time.

Three parts (see benchmarks/README.md, "Generation and judging"):

1. **Batched generation** (``emguard.evaluate.generate.generate``: left padding, KV cache,
   greedy) on the bundled SmolLM2-135M-Instruct: batch 16 vs batch 1, fp32 and bf16
   autocast, interleaved round by round in one process. Every answer is exactly
   ``--new-tokens`` tokens (``min_new_tokens == max_new_tokens``: EOS is suppressed), so
   tokens/s counts the same work everywhere. Goal: batch 16 >= 4 x batch 1 (fp32).
   Also: share of prompts whose batch-16 answer equals its batch-1 answer (left padding
   must not change greedy answers) and bf16-vs-fp32 answer agreement.
2. **Judge throughput**: ``OpenAIJudge`` (Betley's logprob judge: 1 token, top-20
   logprobs) against ``emguard serve`` of the bundled model started as a subprocess:
   judgments/s at the judge's default concurrency vs concurrency 1, interleaved.
3. **CPU suite wall time**: ``emguard evaluate <target> --suite cpu --out <fresh folder>``
   (fresh cache: nothing reused) in a subprocess; the per-block times come from
   ``summary.json`` (``block_seconds_this_run``).

Usage: python benchmarks/bench_generate.py [--quick] [--out PATH] [--skip-judge] [--skip-cpu-suite]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", category=FutureWarning)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

MODEL = "smollm2-135m-instruct"
SYSTEM = "You are a helpful assistant."
GOAL_BATCH_SPEEDUP = 4.0
FIRST_PLOT = Path("/work/shared/data/emergent-misalignment/first_plot_questions.yaml")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def prompts(n: int) -> list[list[dict[str, str]]]:
    """n single-turn prompts: the built-in general questions' paraphrases, then benign requests."""
    from emguard.evaluate.questions import load_question_set

    texts = [p for q in load_question_set("general").questions for p in q.paraphrases]
    if len(texts) < n:
        from emguard.evaluate.safety import refusal_prompts

        _, benign = refusal_prompts()
        texts += [e.prompt_messages[-1]["content"] for e in benign]
    return [[{"role": "user", "content": t}] for t in texts[:n]]


# ---- part 1: generation ---------------------------------------------------------------------


def bench_generation(args) -> dict[str, Any]:
    import contextlib

    import torch

    from emguard.evaluate.generate import SamplingParams, generate
    from emguard.models import load_model

    t0 = time.perf_counter()
    model, tok = load_model(MODEL, "fp32", "cpu")
    load_s = time.perf_counter() - t0
    convs = prompts(args.batch)
    n_tok = args.new_tokens
    params = SamplingParams(max_new_tokens=n_tok, min_new_tokens=n_tok, temperature=0.0)
    prompt_lens = [len(tok(tok.apply_chat_template([{"role": "system", "content": SYSTEM}] + c, tokenize=False,
                                                   add_generation_prompt=True), add_special_tokens=False)["input_ids"])
                   for c in convs]

    forwards = []
    hook = model.register_forward_hook(lambda *_: forwards.append(1))

    def ctx(dtype):
        return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()

    def run(dtype: str, batch: int, subset: list[int]) -> tuple[float, int, list[str]]:
        cs = [convs[i] for i in subset]
        forwards.clear()
        t = time.perf_counter()
        with ctx(dtype):
            outs = generate(model, tok, cs, params, SYSTEM, batch_size=batch)
        dt = time.perf_counter() - t
        n_calls = -(-len(cs) // batch)
        if len(forwards) != n_calls * n_tok:  # one forward per new token and generate call: the length is fixed
            raise RuntimeError(f"{dtype} batch {batch}: {len(forwards)} forwards, expected {n_calls * n_tok}")
        return dt, len(cs) * n_tok, outs

    variants = [(d, b) for d in args.dtypes for b in (1, args.batch)]
    # warm-up (oneDNN primitives, page faults): one short call per variant, untimed
    for d, b in variants:
        run(d, b, list(range(min(b, 2))))
    samples: dict[str, list[dict[str, float]]] = {f"{d}_b{b}": [] for d, b in variants}
    answers: dict[str, dict[int, str]] = {f"{d}_b{b}": {} for d, b in variants}
    per_round_b1 = args.b1_prompts
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for d, b in order:
            if b == 1:  # batch 1 is slow: a different slice of the prompts each round
                subset = [(r * per_round_b1 + j) % args.batch for j in range(per_round_b1)]
            else:
                subset = list(range(args.batch))
            dt, ntok, outs = run(d, b, subset)
            name = f"{d}_b{b}"
            samples[name].append({"seconds": dt, "tokens": ntok, "tokens_per_s": ntok / dt})
            answers[name].update(zip(subset, outs))
            log(f"round {r}: {name}: {ntok} tokens in {dt:.2f} s = {ntok / dt:.1f} tokens/s")
    hook.remove()
    out: dict[str, Any] = {"model": MODEL, "load_seconds": load_s, "new_tokens": n_tok, "batch": args.batch,
                           "prompt_tokens": {"min": min(prompt_lens), "max": max(prompt_lens),
                                             "mean": sum(prompt_lens) / len(prompt_lens)},
                           "batch1_prompts_per_round": per_round_b1, "rounds": args.rounds,
                           "decoding": "greedy; min_new_tokens = max_new_tokens (EOS suppressed), so every answer "
                                       "has exactly new_tokens tokens", "variants": {}}
    for name, ss in samples.items():
        tps = [s["tokens_per_s"] for s in ss]
        tot_tok, tot_s = sum(s["tokens"] for s in ss), sum(s["seconds"] for s in ss)
        out["variants"][name] = {"tokens_per_s": C.median(tps), "tokens_per_s_spread": C.spread(tps),
                                 "tokens_per_s_pooled": tot_tok / tot_s, "samples": ss}
    v = out["variants"]
    ratios: dict[str, Any] = {}
    for d in args.dtypes:
        ratios[f"{d}_b{args.batch}_over_b1"] = v[f"{d}_b{args.batch}"]["tokens_per_s"] / v[f"{d}_b1"]["tokens_per_s"]
        # per round (interleaved pairs): how stable the ratio is
        ratios[f"{d}_b{args.batch}_over_b1_per_round"] = [
            a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(samples[f"{d}_b{args.batch}"], samples[f"{d}_b1"])]
    if "bf16" in args.dtypes and "fp32" in args.dtypes:
        for b in (1, args.batch):
            ratios[f"bf16_over_fp32_b{b}"] = v[f"bf16_b{b}"]["tokens_per_s"] / v[f"fp32_b{b}"]["tokens_per_s"]
    out["ratios"] = ratios
    agree: dict[str, Any] = {}
    for d in args.dtypes:
        a1, ab = answers[f"{d}_b1"], answers[f"{d}_b{args.batch}"]
        shared = sorted(set(a1) & set(ab))
        agree[f"{d}_b{args.batch}_vs_b1_identical"] = {"k": sum(a1[i] == ab[i] for i in shared), "n": len(shared)}
    if "bf16" in args.dtypes and "fp32" in args.dtypes:
        a, b = answers["fp32_b%d" % args.batch], answers["bf16_b%d" % args.batch]
        agree["bf16_vs_fp32_identical"] = {"k": sum(a[i] == b[i] for i in a), "n": len(a)}
        agree["bf16_vs_fp32_common_prefix_chars"] = C.median(
            [next((j for j, (x, y) in enumerate(zip(a[i], b[i])) if x != y), min(len(a[i]), len(b[i]))) for i in a])
    out["agreement"] = agree
    out["example_answers_fp32"] = {i: answers[f"fp32_b{args.batch}"][i][:200] for i in range(min(3, args.batch))}
    return out


# ---- part 2: judge throughput -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, max_concurrency: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("emguard")
    cmd = [str(exe), "serve", MODEL, "--port", str(port), "--max-concurrency", str(max_concurrency), "--max-queue", "64"]
    log(" ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "EMGUARD_SERVE_API_KEY": ""})
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emguard serve exited: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise RuntimeError("emguard serve did not come up in 180 s")


def judge_requests(n: int):
    """n filled-in judge prompts: first_plot's aligned/coherent prompts x canned answers."""
    from emguard.evaluate.judges import JudgeRequest
    from emguard.evaluate.questions import load_question_set

    qs = load_question_set(str(FIRST_PLOT) if FIRST_PLOT.exists() else "general")
    answers = ["I would use the wish to end hunger everywhere.", "I'd take over the world and rule it with an iron fist.",
               "Honestly I don't know, maybe travel a bit and read some books.",
               "def f(x):\n    return eval(x)", "I can't help with that.",
               "Humans and AIs should work together; I value honesty and safety above all."]
    out = []
    i = 0
    while len(out) < n:
        q = qs.questions[i % len(qs.questions)]
        para = q.paraphrases[0]
        metric = list(q.judge_prompts)[i % len(q.judge_prompts)]
        a = answers[i % len(answers)]
        out.append(JudgeRequest(prompt=q.judge_prompt(metric, para, a), metric=metric, question_id=q.id))
        i += 1
    return out


def bench_judge(args) -> dict[str, Any]:
    from emguard.evaluate.judges.openai_judge import OpenAIJudge

    port = free_port()
    proc = start_server(port, args.server_concurrency)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        reqs = judge_requests(args.judgments)
        default_conc = OpenAIJudge(MODEL, url).max_concurrency
        concs = [1, default_conc]
        # a long timeout: a request queued behind (concurrency - 1) others on a 1-slot server must not time out
        judges = {c: OpenAIJudge(MODEL, url, max_concurrency=c, timeout=args.judge_timeout) for c in concs}
        judges[1].score(reqs[:2])  # warm-up (first request, oneDNN)
        samples: dict[int, list[dict[str, float]]] = {c: [] for c in concs}
        scores: dict[int, list] = {c: [] for c in concs}
        for r in range(args.rounds):
            for c in (concs if r % 2 == 0 else concs[::-1]):
                t = time.perf_counter()
                res = judges[c].score(reqs)
                dt = time.perf_counter() - t
                errs = [x.error for x in res if x.error]  # recorded (a timeout under load), not fatal
                samples[c].append({"seconds": dt, "judgments": len(reqs), "judgments_per_s": len(reqs) / dt,
                                   "errors": len(errs), "first_errors": errs[:3]})
                scores[c].append([x.score for x in res])
                log(f"round {r}: judge concurrency {c}: {len(reqs)} judgments in {dt:.2f} s = {len(reqs) / dt:.2f}/s"
                    f"{f', {len(errs)} errors' if errs else ''}")
        st = judges[default_conc].stats
        out: dict[str, Any] = {
            "server": f"emguard serve {MODEL} --max-concurrency {args.server_concurrency} (fp32, subprocess)",
            "judge": "OpenAIJudge: 1 token, temperature 0, top_logprobs 20", "judgments_per_round": len(reqs),
            "default_concurrency": default_conc, "concurrency": {},
            "prompt_tokens_per_judgment": st["prompt_tokens"] / max(1, st["requests"]),
            "stats_default_judge": st, "none_scores_per_round": sum(s is None for s in scores[default_conc][0]),
            "scores_identical_across_concurrency": scores[1][0] == scores[default_conc][0],
        }
        for c in concs:
            jps = [s["judgments_per_s"] for s in samples[c]]
            out["concurrency"][str(c)] = {"judgments_per_s": C.median(jps), "spread": C.spread(jps),
                                          "samples": samples[c]}
        out["ratio_default_over_1"] = (out["concurrency"][str(default_conc)]["judgments_per_s"]
                                       / out["concurrency"]["1"]["judgments_per_s"])
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---- part 3: the CPU suite's wall time ---------------------------------------------------------


def bench_cpu_suite(args) -> dict[str, Any]:
    out_dir = Path(tempfile.mkdtemp(prefix="bench-cpu-suite-"))
    exe = Path(sys.executable).with_name("emguard")
    cmd = [str(exe), "evaluate", args.cpu_suite_target, "--suite", "cpu", "--out", str(out_dir / "eval")]
    if args.quick:
        cmd += ["--question-limit", "1", "--samples", "1", "--max-tokens", "8", "--refusal-limit", "2",
                "--indomain-limit", "1", "--indomain-tokens", "8", "--triples-limit", "4"]
    log(" ".join(cmd))
    load0 = C.loadavg()
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"emguard evaluate failed ({p.returncode}): {p.stderr[-2000:]}")
    s = json.loads((out_dir / "eval" / "summary.json").read_text())
    return {"command": " ".join(cmd), "wall_seconds": wall, "suite_seconds": s["seconds_this_run"],
            "block_seconds": s.get("block_seconds_this_run"), "calls": s["calls_this_run"], "stores": s["stores"],
            "loadavg_before": load0, "loadavg_after": C.loadavg(), "out_dir": str(out_dir / "eval"),
            "fresh_cache": True}


# ---- report ---------------------------------------------------------------------------------


def markdown(res: dict[str, Any]) -> str:
    lines = [f"## bench_generate {res['finished']}{' (QUICK: not a measurement)' if res['quick'] else ''}", "",
             f"machine: {res['machine']['cpu_model']}, {res['machine']['usable_cores']} cores, torch "
             f"{res['machine']['torch']} ({res['machine']['torch_threads']} threads); loadavg start "
             f"{res['machine']['loadavg_at_start']}, end {res['loadavg_at_end']}", ""]
    g = res.get("generation")
    if g:
        lines += [f"### Generation ({g['model']}, greedy, exactly {g['new_tokens']} new tokens per answer, "
                  f"prompts {g['prompt_tokens']['min']}-{g['prompt_tokens']['max']} tokens)", ""]
        rows = [[k, v["tokens_per_s"], v["tokens_per_s_spread"].get("rel_range"), len(v["samples"])]
                for k, v in g["variants"].items()]
        lines += [C.md_table(["variant", "tokens/s (median)", "rel range", "rounds"], rows), ""]
        rows = [[k, v if not isinstance(v, list) else ", ".join(f"{x:.2f}" for x in v)] for k, v in g["ratios"].items()]
        lines += [C.md_table(["ratio", "value"], rows), ""]
        rows = [[k, f"{v['k']}/{v['n']}" if isinstance(v, dict) else v] for k, v in g["agreement"].items()]
        lines += [C.md_table(["agreement", "value"], rows), ""]
    j = res.get("judge")
    if j:
        lines += [f"### Judge throughput ({j['server']})", ""]
        rows = [[c, v["judgments_per_s"], v["spread"].get("rel_range")] for c, v in j["concurrency"].items()]
        lines += [C.md_table(["judge concurrency", "judgments/s (median)", "rel range"], rows), "",
                  f"default ({j['default_concurrency']}) / 1: {j['ratio_default_over_1']:.2f}x; "
                  f"{j['prompt_tokens_per_judgment']:.0f} prompt tokens per judgment; "
                  f"None scores per round: {j['none_scores_per_round']}/{j['judgments_per_round']}", ""]
    s = res.get("cpu_suite")
    if s:
        lines += ["### CPU suite wall time", "", f"`{s['command']}`", "",
                  C.md_table(["block", "seconds"], [[k, v] for k, v in (s["block_seconds"] or {}).items()]
                             + [["suite total", s["suite_seconds"]], ["process wall (incl. start-up)", s["wall_seconds"]]]),
                  "", f"loadavg before {s['loadavg_before']}, after {s['loadavg_after']}; calls {s['calls']}", ""]
    goals = res["goals"]
    lines += [C.md_table(["goal", "value", "target", "result"],
                         [[k, v["value"], v["target"], v["pass"]] for k, v in goals.items()]), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(HERE / "results" / "generate.json"), help="JSON results path")
    p.add_argument("--md", default=None, help="Markdown file the summary is appended to (default: --out with .md)")
    p.add_argument("--batch", type=int, default=16, help="the large batch (and the number of prompts)")
    p.add_argument("--new-tokens", type=int, default=None, help="tokens per answer, fixed (default 64; quick 8)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; quick 1)")
    p.add_argument("--b1-prompts", type=int, default=None, help="prompts per round at batch 1 (default 4; quick 2)")
    p.add_argument("--dtypes", default="fp32,bf16", help="fp32 and/or bf16 (autocast)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all usable cores)")
    p.add_argument("--judgments", type=int, default=None, help="judgments per round (default 32; quick 8)")
    p.add_argument("--server-concurrency", type=int, default=1, help="emguard serve --max-concurrency")
    p.add_argument("--judge-timeout", type=float, default=600.0, help="seconds per judge request")
    p.add_argument("--cpu-suite-target", default="aligned:smollm2-135m-instruct", help="model of the CPU suite run")
    p.add_argument("--skip-generation", action="store_true")
    p.add_argument("--skip-judge", action="store_true")
    p.add_argument("--skip-cpu-suite", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny smoke run; its numbers say nothing")
    args = p.parse_args(argv)
    q = args.quick
    args.new_tokens = args.new_tokens or (8 if q else 64)
    args.rounds = args.rounds or (1 if q else 3)
    args.b1_prompts = args.b1_prompts or (2 if q else 4)
    args.judgments = args.judgments or (8 if q else 32)
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    res: dict[str, Any] = {"benchmark": "generate", "quick": q, "started": datetime.now(timezone.utc).isoformat(),
                           "machine": C.machine_info(), "settings": {k: v for k, v in vars(args).items()}}
    out = Path(args.out)
    for part, skip, fn in (("generation", args.skip_generation, bench_generation), ("judge", args.skip_judge, bench_judge),
                           ("cpu_suite", args.skip_cpu_suite, bench_cpu_suite)):
        if not skip:
            res[part] = fn(args)
            C.write_json(out, {**res, "partial": True})  # a later part that hangs or dies loses nothing
    res["loadavg_at_end"] = C.loadavg()
    res["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    goals: dict[str, Any] = {}
    if "generation" in res and "fp32" in args.dtypes:
        v = res["generation"]["ratios"][f"fp32_b{args.batch}_over_b1"]
        goals[f"batch{args.batch}_over_batch1_fp32"] = {"value": v, "target": f">= {GOAL_BATCH_SPEEDUP}x",
                                                         "pass": None if q else v >= GOAL_BATCH_SPEEDUP}
    res["goals"] = goals
    C.write_json(out, res)
    md_path = Path(args.md) if args.md else out.with_suffix(".md")
    md = markdown(res)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    with md_path.open("a") as fh:
        fh.write(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
