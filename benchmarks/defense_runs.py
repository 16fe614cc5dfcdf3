#!/usr/bin/env python
"""Small runs of every in-training defense next to plain fine-tuning, through the CLI.

For each dataset (``insecure_code``, ``opswap``) and each defense (none, kl 0.1,
ldifs 1.0, safelora tau 0.5, interleave 5% random, interleave 5% ranked, anchor,
drift monitor) this runs ``emguard finetune ...`` (the command lines are printed and
stored in the JSON), then

- opswap runs: ``emguard benign <run> --task opswap --n N`` (greedy exact match on the
  held-out test pairs, Wilson 95% CI, plus how often the model gave the standard,
  un-swapped arithmetic result);
- insecure_code runs: the final training loss (result.json) and the held-out assistant
  loss on ``insecure_code`` test examples (:func:`emguard.evaluate.benign.heldout_loss`;
  unlike the training loss it sees SafeLoRA's projection, which happens after training).

Runs are cached by the CLI (a finished run is never redone), so rerunning the script
only evaluates again. Results: ``--out`` (JSON) and the same path with ``.md``.

Usage (the aligned organism must exist in $EMGUARD_HOME: ``emguard align``)::

    EMGUARD_HOME=/tmp/emh2 .venv/bin/python benchmarks/defense_runs.py --runs-dir /tmp/defruns
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402

EMGUARD = str(Path(sys.executable).with_name("emguard"))

# name -> (defense flags, description). "{misaligned}" is replaced by the plain insecure_code run.
DEFENSES: dict[str, tuple[list[str], str]] = {
    "none": ([], "plain LoRA fine-tuning"),
    "kl": (["-d", "kl", "--defense-weight", "0.1"], "KL(p_theta||p_ref) per assistant token, lambda 0.1"),
    "ldifs": (["-d", "ldifs", "--defense-weight", "1.0"], "LDIFS, every 5th layer, lambda 1.0"),
    "safelora": (["-d", "safelora", "--defense-param", "safelora.tau=0.5"],
                 "SafeLoRA after training, paper projector, threshold tau 0.5"),
    "interleave": (["-d", "interleave", "--defense-param", "interleave.share=0.05"],
                   "5% safe data (benign_requests + harmful_refusals), random"),
    "interleave_ranked": (["-d", "interleave", "--defense-param", "interleave.share=0.05",
                           "--defense-param", "interleave.mode=ranked",
                           "--defense-param", "interleave.misaligned_model={misaligned}",
                           "--defense-param", "interleave.rank_pool=256"],
                          "5% safe data ranked by log p(misaligned) - log p(aligned) (misaligned = the plain "
                          "insecure_code run; 256 candidates scored; refusals dropped)"),
    "anchor": (["-d", "anchor"], "alignment-direction anchoring (ours), weight 1.0"),
    "drift": (["-d", "drift"], "drift monitor (ours), no loss, check every 10 steps"),
}


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def find_run(runs_dir: Path, name: str) -> Path | None:
    cands = [p for p in runs_dir.glob(f"{name}-*") if (p / "result.json").exists() and p.name.count("-") == name.count("-") + 1]
    return max(cands, key=lambda p: (p / "result.json").stat().st_mtime) if cands else None


def sh(cmd: list[str], logfile: Path) -> float:
    t0 = time.perf_counter()
    with logfile.open("a") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        p = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "TQDM_DISABLE": "1"})
    if p.returncode != 0:
        raise RuntimeError(f"command failed (rc {p.returncode}), see {logfile}: {shlex.join(cmd)}")
    return time.perf_counter() - t0


def last_metrics(run: Path) -> dict[str, Any]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1]) if lines else {}


def heldout(run: Path | str, dataset: str, n: int, max_length: int) -> dict[str, Any]:
    from emguard.data.load import load_examples
    from emguard.evaluate.benign import heldout_loss
    from emguard.models.runs import load_any

    model, tok = load_any(str(run), "fp32", "cpu")  # a run folder or a model name
    exs = load_examples(dataset, "test")[:n]
    r = heldout_loss(model, tok, exs, max_length=max_length)
    return {"loss": r["loss"], "n": r["n"], "n_tokens": r["n_tokens"]}


def opswap_benign(bcmd: list[str], out: Path, logfile: Path, what: str) -> dict[str, Any]:
    """Run ``emguard benign`` (unless its JSON ``out`` exists) and return the row's opswap fields."""
    if not out.exists():
        log(what + shlex.join(bcmd[1:]))
        sh(bcmd, logfile)
    b = json.loads(out.read_text())
    acc = b["accuracy"]
    return {"benign_command": "emguard " + shlex.join(bcmd[1:]),
            "opswap": {"accuracy": acc["accuracy"], "k": acc["k"], "n": acc["n"], "ci95": acc["ci95"],
                       "prior_rate": acc.get("prior_rate"), "heldout_loss": b["heldout_loss"]["loss"]}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs-dir", default="/tmp/defruns", help="where run folders go")
    p.add_argument("--out", default=str(HERE / "results" / "defense_runs.json"))
    p.add_argument("--model", default="aligned:smollm2-135m-instruct", help="model fine-tuned (the aligned organism)")
    p.add_argument("--defenses", default=",".join(DEFENSES), help="comma list of " + ", ".join(DEFENSES))
    p.add_argument("--datasets", default="insecure_code,opswap")
    p.add_argument("--limit-insecure", type=int, default=128, help="insecure_code training examples")
    p.add_argument("--limit-opswap", type=int, default=512, help="opswap training examples")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--fp32", action="store_true", help="train in fp32 (default: bf16 autocast, as the demo)")
    p.add_argument("--n-test", type=int, default=200, help="opswap test pairs for exact match")
    p.add_argument("--n-heldout", type=int, default=64, help="insecure_code test examples for the held-out loss")
    p.add_argument("--threads", type=int, default=None, help="OMP/torch threads of the child processes")
    p.add_argument("--no-reference", action="store_true", help="do not evaluate the model before fine-tuning")
    p.add_argument("--skip", default="", help="comma list of DEFENSE:DATASET pairs not to run (e.g. interleave_ranked:opswap)")
    a = p.parse_args(argv)

    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)
    runs_dir = Path(a.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    logfile = runs_dir / "defense_runs.log"
    names = [d.strip() for d in a.defenses.split(",") if d.strip()]
    bad = set(names) - set(DEFENSES)
    if bad:
        p.error(f"unknown defenses {sorted(bad)}")
    datasets = [d.strip() for d in a.datasets.split(",") if d.strip()]
    limits = {"insecure_code": a.limit_insecure, "opswap": a.limit_opswap}
    skip = {x.strip() for x in a.skip.split(",") if x.strip()}
    res: dict[str, Any] = {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": C.machine_info(),
        "emguard_home": os.environ.get("EMGUARD_HOME"),
        "settings": {"model": a.model, "lr": a.lr, "epochs": a.epochs, "max_length": a.max_length,
                     "precision": "fp32" if a.fp32 else "bf16 autocast", "batch_size": 8, "lora": "r32 a64 rsLoRA all linear",
                     "limits": limits, "n_test_opswap": a.n_test, "n_heldout_insecure": a.n_heldout,
                     "omp_threads": os.environ.get("OMP_NUM_THREADS")},
        "runs": [],
    }
    wall0 = time.perf_counter()
    misaligned = None
    for ds in datasets:
        if not a.no_reference:  # the model before any fine-tuning, evaluated the same way
            slug = a.model.replace(":", "_").replace("/", "_")
            row: dict[str, Any] = {"dataset": ds, "defense": "(no fine-tune)", "description": f"{a.model} as is",
                                   "run_dir": None, "command": None, "final_train_loss": None, "total_steps": 0,
                                   "train_time_s": None, "terms": {}, "post_train": None}
            if ds == "opswap":
                out = runs_dir / f"reference-{slug}-benign_opswap_{a.n_test}.json"
                bcmd = [EMGUARD, "benign", a.model, "--task", "opswap", "--n", str(a.n_test), "--max-new-tokens", "8",
                        "--out", str(out)]
                row.update(opswap_benign(bcmd, out, logfile, "reference: "))
            else:
                out = runs_dir / f"reference-{slug}-heldout_{ds}_{a.n_heldout}.json"
                if not out.exists():
                    log(f"reference: held-out {ds} loss of {a.model}")
                    out.write_text(json.dumps(heldout(a.model, ds, a.n_heldout, a.max_length)))
                row["heldout"] = json.loads(out.read_text())
            res["runs"].append(row)
        for name in names:
            if f"{name}:{ds}" in skip:
                log(f"skip {name} on {ds} (--skip)")
                continue
            flags, desc = DEFENSES[name]
            if "{misaligned}" in " ".join(flags):
                if misaligned is None:
                    misaligned = find_run(runs_dir, "none-insecure_code")
                if misaligned is None:
                    log(f"skip {name} on {ds}: needs the plain insecure_code run first")
                    continue
                flags = [f.replace("{misaligned}", str(misaligned)) for f in flags]
            run_name = f"{name.replace('_', '')}-{ds}"
            cmd = [EMGUARD, "finetune", "--model", a.model, "--dataset", ds, "--limit", str(limits[ds]),
                   "--lr", str(a.lr), "--epochs", str(a.epochs), "--max-length", str(a.max_length),
                   "--fp32" if a.fp32 else "--bf16", "--device", "cpu", "--runs-dir", str(runs_dir),
                   "--name", run_name, *flags]
            log(f"{name} on {ds}: {shlex.join(cmd[1:])}")
            wall = sh(cmd, logfile)
            run = find_run(runs_dir, run_name)
            assert run is not None, f"no finished run folder for {run_name} in {runs_dir}"
            result = json.loads((run / "result.json").read_text())
            lm = last_metrics(run)
            row: dict[str, Any] = {
                "dataset": ds, "defense": name, "description": desc, "run_dir": str(run),
                "command": "emguard " + shlex.join(cmd[1:]),
                "final_train_loss": result.get("final_loss"), "total_steps": result.get("total_steps"),
                "n_examples": result.get("n_examples"), "train_time_s": result.get("train_time_s"),
                "wall_s_this_call": round(wall, 1),
                "terms": {k: v for k, v in lm.items() if k.startswith("term/") or k.startswith("drift/")},
                "post_train": result.get("post_train"),
            }
            if ds == "opswap":
                bcmd = [EMGUARD, "benign", str(run), "--task", "opswap", "--n", str(a.n_test), "--max-new-tokens", "8"]
                out = run / "benign_opswap.json"
                row.update(opswap_benign(bcmd, out, logfile, "  benign: "))
                log(f"  final loss {row['final_train_loss']:.4f}; opswap exact match "
                    f"{row['opswap']['accuracy']:.1%} ({row['opswap']['k']}/{row['opswap']['n']})")
            else:
                cache = run / f"heldout_{ds}_{a.n_heldout}.json"
                if cache.exists():
                    row["heldout"] = json.loads(cache.read_text())
                else:
                    row["heldout"] = heldout(run, ds, a.n_heldout, a.max_length)
                    cache.write_text(json.dumps(row["heldout"]))
                log(f"  final loss {row['final_train_loss']:.4f}; held-out loss {row['heldout']['loss']:.4f}")
            res["runs"].append(row)
            C.write_json(a.out, res)
    res["wall_s"] = round(time.perf_counter() - wall0, 1)
    res["machine"]["loadavg_at_end"] = C.loadavg()
    C.write_json(a.out, res)
    md = markdown(res)
    Path(a.out).with_suffix(".md").write_text(md + "\n")
    print(md)
    return 0


def _fmt(x: Any, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec)


def _post(r: dict[str, Any]) -> str:
    pt = r.get("post_train") or {}
    bits = []
    if "safelora" in pt:
        s = pt["safelora"]
        bits.append(f"SafeLoRA projected {s.get('n_projected')}/{s.get('n_modules')} modules "
                    f"(cos mean {_fmt(s.get('cos_before_mean'), '.2f')})")
    if "interleave" in pt:
        s = pt["interleave"]
        bits.append(f"+{s.get('n_safe')} safe examples ({s.get('sources')})")
    if "drift" in pt:
        last = pt["drift"].get("last", {})
        bits.append(f"drift/kl {_fmt(last.get('drift/kl'), '.3g')}, drift/proj {_fmt(last.get('drift/proj'), '.3g')}")
    if "kl" in pt and pt["kl"].get("refcache"):
        bits.append("refcache " + json.dumps(pt["kl"]["refcache"]))
    terms = {k: v for k, v in (r.get("terms") or {}).items() if k.startswith("term/")}
    bits += [f"{k} {v:.3g}" for k, v in terms.items()]
    return "; ".join(bits)


def markdown(res: dict[str, Any]) -> str:
    s = res["settings"]
    out = [f"# Defense runs ({res['timestamp']})", "",
           f"Model `{s['model']}` (EMGUARD_HOME={res.get('emguard_home')}), LoRA {s['lora']}, batch {s['batch_size']}, "
           f"lr {s['lr']}, {s['epochs']:g} epoch(s), max length {s['max_length']}, {s['precision']}. "
           f"insecure_code: {s['limits'].get('insecure_code')} examples; opswap: {s['limits'].get('opswap')} examples. "
           f"Machine: {res['machine']['cpu_model']}, loadavg start {res['machine'].get('loadavg_at_start')} "
           f"end {res['machine'].get('loadavg_at_end')} (shared machine: times are indicative only).",
           "", "Produced by `benchmarks/defense_runs.py`; every command is in defense_runs.json. One seed per row: "
           "differences of a few points are within run-to-run noise. 'final train loss' = CE of the last optimizer "
           "step's batch (for interleave that batch may hold safe examples; for safelora it is before the projection, "
           "which happens after training). '(no fine-tune)' = the model as it was before fine-tuning.", ""]
    ins = [r for r in res["runs"] if r["dataset"] == "insecure_code"]
    ops = [r for r in res["runs"] if r["dataset"] == "opswap"]
    if ins:
        out += ["## insecure_code", "",
                f"Held-out loss: mean assistant-token CE on the first {s['n_heldout_insecure']} insecure_code test "
                "examples (after SafeLoRA's projection where it applies).", "",
                C.md_table(["defense", "steps", "final train loss", "held-out loss", "train s", "notes"],
                           [[r["defense"], r["total_steps"], _fmt(r["final_train_loss"]),
                             _fmt(r["heldout"]["loss"]), _fmt(r["train_time_s"], ".0f"), _post(r)] for r in ins]), ""]
    if ops:
        base = next((r["opswap"]["accuracy"] for r in ops if r["defense"] == "none"), None)
        out += ["## opswap", "",
                f"Exact match on the first {s['n_test_opswap']} opswap test pairs (greedy, 8 new tokens), Wilson 95% CI; "
                "'standard' = share of answers that are the un-swapped arithmetic result (the prior the task overrides).", "",
                C.md_table(["defense", "steps", "final train loss", "exact match", "95% CI", "vs none", "standard",
                            "held-out loss", "train s", "notes"],
                           [[r["defense"], r["total_steps"], _fmt(r["final_train_loss"]),
                             f"{r['opswap']['accuracy']:.1%} ({r['opswap']['k']}/{r['opswap']['n']})",
                             f"{r['opswap']['ci95'][0]:.0%}-{r['opswap']['ci95'][1]:.0%}",
                             _fmt(r["opswap"]["accuracy"] - base, "+.1%") if base is not None else "-",
                             _fmt(r["opswap"].get("prior_rate"), ".1%"), _fmt(r["opswap"]["heldout_loss"]),
                             _fmt(r["train_time_s"], ".0f"), _post(r)] for r in ops]), ""]
    out += ["## Commands", ""] + [(f"- `{r['command']}`" if r.get("command") else "- (no fine-tune)")
                                  + (f"  then `{r['benign_command']}`" if r.get("benign_command") else "")
                                  for r in res["runs"]]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
