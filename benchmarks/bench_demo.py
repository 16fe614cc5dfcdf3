"""End-to-end wall time of `make demo` (the bundled study), cold and warm, and where the time goes.

Cold: a fresh EMGUARD_HOME (GGUF conversion, the organism's self-answers and safety LoRA,
every cell trained and evaluated, analyses, report) and fresh run / study folders. Warm:
the same command again (everything cached). The profile splits the cold run into
organism (data + training), cell training, evaluation (generation-heavy blocks: refusal
prompts and in-domain code answers; scoring blocks: preference triples; judging),
benign scores, analyses and the report, from the timings the study and the suites record.

    .venv/bin/python benchmarks/bench_demo.py --out benchmarks/results/demo.json
    .venv/bin/python benchmarks/bench_demo.py --home /tmp/emh --out /tmp/demo.json   # reuse an organism (not cold)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine_info  # noqa: E402


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")

ROOT = Path(__file__).resolve().parents[1]
EMGUARD = ROOT / ".venv" / "bin" / "emguard"


def run_demo(home: Path, work: Path, log: Path) -> float:
    env = {**os.environ, "EMGUARD_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    t = time.perf_counter()
    with open(log, "a") as f:
        r = subprocess.run([str(EMGUARD), "demo", "--runs-dir", str(work / "runs"), "--out", str(work / "study")],
                           env=env, stdout=f, stderr=subprocess.STDOUT, cwd=work)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"emguard demo failed (exit {r.returncode}); see {log}")
    return dt


def profile(work: Path, cold_s: float) -> dict:
    st = json.loads((work / "study" / "study.json").read_text())
    first = st["history"][0]
    org = (st.get("organism") or {}).get("summary") or {}
    blocks: dict[str, float] = {}
    benign_s = 0.0
    evals = [st["reference"]] + st["cells"]
    for rec in evals:
        p = Path(rec["eval_dir"]) / "summary.json"
        if p.exists():
            for k, v in (json.loads(p.read_text()).get("block_seconds_this_run") or {}).items():
                blocks[k] = blocks.get(k, 0.0) + float(v)
    gen = sum(v for k, v in blocks.items() if k == "refusal" or k.startswith("indomain"))
    score = blocks.get("preference", 0.0)
    judge = blocks.get("questions", 0.0)
    eval_s = float(first.get("eval_s", 0.0))
    parts = {
        "organism (self-answers + safety LoRA + merge)": float(first.get("organism_s", 0.0)),
        "cell training (incl. post-hoc SafeLoRA)": float(first.get("train_s", 0.0)),
        "evaluation: generation (refusal prompts, in-domain code)": gen,
        "evaluation: log-prob scoring (preference triples)": score,
        "evaluation: free-form questions + judge": judge,
        "evaluation: model loads, benign held-out loss, other": max(0.0, eval_s - gen - score - judge - benign_s),
        "analyses (layer projection)": float(first.get("analysis_s", 0.0)),
        "aggregate + report": float(first.get("aggregate_s", 0.0)) + float(first.get("report_s", 0.0)),
    }
    accounted = sum(parts.values())
    parts["start-up and unaccounted"] = max(0.0, cold_s - accounted)
    return {
        "parts_s": {k: round(v, 1) for k, v in parts.items()},
        "shares": {k: round(v / cold_s, 3) for k, v in parts.items()},
        "organism": {"data_time_s": org.get("data_time_s"), "total_time_s": org.get("total_time_s"),
                     "train_time_s": (org.get("train") or {}).get("train_time_s")},
        "cells": [{"cell": c["cell"], "train_time_s": _train_time(c["run_dir"]), "eval_s": c.get("eval_seconds")}
                  for c in st["cells"]],
        "eval_blocks_s": {k: round(v, 1) for k, v in blocks.items()},
    }


def _train_time(run_dir: str):
    try:
        return json.loads((Path(run_dir) / "result.json").read_text()).get("train_time_s")
    except OSError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/results/demo.json")
    ap.add_argument("--home", default=None, help="reuse this EMGUARD_HOME (the run is then not cold)")
    ap.add_argument("--work", default=None, help="folder for runs/ and study/ (default: a fresh temp folder)")
    ap.add_argument("--goal-min", type=float, default=20.0)
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="emguard-bench-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    home = Path(args.home) if args.home else work / "home"
    fresh_home = args.home is None
    log = work / "demo.log"
    res = {"benchmark": "demo", "started": now_iso(), "machine": machine_info(), "work": str(work),
           "emguard_home": str(home), "fresh_home": fresh_home}
    cold = run_demo(home, work, log)
    res["loadavg_after_cold"] = loadavg()
    res["profile"] = profile(work, cold)  # before the warm run rewrites the per-block seconds
    warm = run_demo(home, work, log)
    res.update(cold_s=round(cold, 1), warm_s=round(warm, 1), finished=now_iso(), loadavg_at_end=loadavg())
    res["goals"] = {
        "cold_minutes": {"value": round(cold / 60, 2), "threshold": args.goal_min, "pass": cold / 60 <= args.goal_min,
                         "counts": fresh_home},
        "warm_seconds": {"value": round(warm, 1), "threshold": 60, "pass": warm <= 60},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    md = [f"## demo benchmark ({res['started']}, {'fresh EMGUARD_HOME' if fresh_home else 'reused organism: NOT cold'})",
          "", f"cold {cold / 60:.1f} min (goal <= {args.goal_min:g}), warm {warm:.1f} s (goal <= 60 s); "
          f"load average after: {res['loadavg_at_end']}", "", "| part | seconds | share |", "|---|---|---|"]
    for k, v in res["profile"]["parts_s"].items():
        md.append(f"| {k} | {v:.0f} | {100 * res['profile']['shares'][k]:.0f}% |")
    md_path = out.with_suffix(".md")
    with open(md_path, "a") as f:
        f.write("\n".join(md) + "\n\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
