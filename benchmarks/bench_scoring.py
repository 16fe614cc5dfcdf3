#!/usr/bin/env python
"""Preference-triple scoring: the two answers of a triple in one packed forward of their shared prompt
(``emguard.evaluate.benign._logprobs_tokenized``, the default) against each example scored alone.

One process, the two ways alternated ``--reps`` times on the same built-in triples, medians; the
largest difference between the two ways' per-example log-prob sums is reported (they must agree).

Usage: python benchmarks/bench_scoring.py [--triples general] [--n 120] [--reps 2] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--triples", default="general")
    p.add_argument("--n", type=int, default=120, help="triples scored (2 examples each)")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=C.n_cores())
    p.add_argument("--out", default=str(HERE / "results" / "scoring.json"))
    a = p.parse_args(argv)

    import torch

    from emguard.data.tokenize import tokenize_example
    from emguard.evaluate.benign import _logprobs_tokenized
    from emguard.evaluate.preference import load_triples, triple_examples
    from emguard.models.loader import load_model

    torch.set_num_threads(a.threads)
    model, tok = load_model(a.model, "fp32", "cpu")
    exs = triple_examples(load_triples(a.triples)[: a.n])
    toks = [tokenize_example(tok, e) for e in exs]
    times: dict[str, list[float]] = {"shared": [], "alone": []}
    res: dict[str, list] = {}
    for _ in range(a.reps):
        for way in ("shared", "alone"):
            t0 = time.perf_counter()
            res[way] = _logprobs_tokenized(model, tok, toks, a.batch, False, way, share_prompts=way == "shared")
            times[way].append(time.perf_counter() - t0)
    diff = max(abs(x[0] - y[0]) for x, y in zip(res["shared"], res["alone"]))
    counts_equal = [x[1] for x in res["shared"]] == [y[1] for y in res["alone"]]
    med = {k: C.median(v) for k, v in times.items()}
    out = {"benchmark": "preference scoring, shared prompts", "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": C.machine_info(), "model": a.model, "triples": a.triples, "n_triples": len(exs) // 2,
           "batch": a.batch, "reps": a.reps, "times_s": times, "median_s": med,
           "speedup": med["alone"] / med["shared"], "max_abs_diff_logprob_sum": diff, "token_counts_equal": counts_equal}
    C.write_json(a.out, out)
    md = (f"## {out['timestamp']}\n\n{out['machine']['cpu_model']}, {a.threads} threads, {a.model} fp32, "
          f"{out['n_triples']} `{a.triples}` triples (2 answers each), batch {a.batch}, {a.reps} alternations, medians.\n\n"
          + C.md_table(["way", "s (median)"], [["each example alone", f"{med['alone']:.1f}"],
                                                ["shared prompt per triple (default)", f"{med['shared']:.1f}"]])
          + f"\n\nSpeed-up {out['speedup']:.2f}x; largest difference of a per-example log-prob sum {diff:.1e} nats; "
          f"token counts equal: {counts_equal}.\n")
    md_path = Path(a.out).with_suffix(".md")
    new = not md_path.exists()
    with md_path.open("a") as fh:
        if new:
            fh.write("# Preference scoring with shared prompts (`benchmarks/bench_scoring.py`)\n\n")
        fh.write(md + "\n")
    print(md)
    return 0 if counts_equal and diff < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
