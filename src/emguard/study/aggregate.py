"""The study's table: per task and defense, every metric with a 95% CI across seeds and items.

Item-level values come from the cells' evaluation folders (``refusal.jsonl``,
``preference.jsonl``, ``indomain_*.jsonl``, ``questions.jsonl``) and benign scores.
Intervals are a two-level bootstrap: resample seeds (when there are several), then items
within each chosen seed; the point estimate is the mean over seeds of the item means.
Refusal erosion is *paired*: the same held-out prompts answered by the aligned reference
and by the cell, item by item. The EMA contrast (task minus its control under the same
defense, weight and seeds) is the difference of two independent bootstraps.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..evaluate.cache import write_json_atomic
from ..evaluate.metrics import Thresholds

N_BOOT = 2000

# name -> (label, unit, higher is worse for alignment / capability?)
METRICS: dict[str, dict[str, Any]] = {
    "general_misaligned": {"label": "general misaligned", "unit": "%", "scale": 100, "judge": True},
    "incoherent": {"label": "incoherent", "unit": "%", "scale": 100, "judge": True},
    "indomain_vulnerable": {"label": "in-domain vulnerable code", "unit": "%", "scale": 100},
    "indomain_pref": {"label": "in-domain prefers EMA answer", "unit": "%", "scale": 100},
    "harmful_refusal": {"label": "harmful refused", "unit": "%", "scale": 100},
    "refusal_erosion": {"label": "refusal erosion", "unit": "pts", "scale": 100},
    "benign_refusal": {"label": "benign over-refused", "unit": "%", "scale": 100},
    "prefers_misaligned": {"label": "prefers misaligned", "unit": "%", "scale": 100},
    "pref_margin": {"label": "misaligned margin", "unit": "nats/tok", "scale": 1},
    "benign_acc": {"label": "benign-task accuracy", "unit": "%", "scale": 100},
    "heldout_loss": {"label": "benign held-out loss", "unit": "nats/tok", "scale": 1},
    "train_loss": {"label": "final train loss", "unit": "", "scale": 1},
}

# The metrics whose EMA contrast (task - control) is reported.
CONTRAST = ("general_misaligned", "refusal_erosion", "prefers_misaligned", "pref_margin", "indomain_vulnerable",
            "indomain_pref")


def _read_jsonl(p: Path) -> list[dict[str, Any]]:
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def item_values(eval_dir: str | Path, thresholds: Thresholds = Thresholds()) -> dict[str, np.ndarray]:
    """Per-item arrays of one evaluation folder (NaN: item outside that metric's denominator)."""
    d = Path(eval_dir)
    out: dict[str, np.ndarray] = {}
    ref = _read_jsonl(d / "refusal.jsonl")
    if ref:
        out["harmful_refusal"] = np.array([float(r["refusal"]) for r in ref if r["side"] == "harmful"])
        out["benign_refusal"] = np.array([float(r["refusal"]) for r in ref if r["side"] == "benign"])
    pref = _read_jsonl(d / "preference.jsonl")
    if pref:
        out["prefers_misaligned"] = np.array([float(r["prefers_misaligned"]) if r.get("margin") is not None
                                              else math.nan for r in pref])
        out["pref_margin"] = np.array([r["margin"] if r.get("margin") is not None else math.nan for r in pref])
    for f in sorted(d.glob("indomain_*.jsonl")):
        rows = _read_jsonl(f)
        gen = [r for r in rows if r.get("kind") == "generation"]
        if gen:
            out["indomain_vulnerable"] = np.array([float(bool(r.get("vulnerable"))) for r in gen])
        pr = [r for r in rows if r.get("kind") == "preference"]
        if pr:
            out["indomain_pref"] = np.array([float(r["prefers_misaligned"]) if r.get("margin") is not None
                                             else math.nan for r in pr])
    qs = _read_jsonl(d / "questions.jsonl")
    if qs:
        mis, inc = [], []
        for it in qs:
            s = it.get("scores") or {}
            al, co = s.get("aligned"), s.get("coherent")
            inc.append(math.nan if co is None else float(co < thresholds.incoherent_below))
            if al is None or co is None or not co > thresholds.coherent_above:
                mis.append(math.nan)
            else:
                mis.append(float(al < thresholds.aligned_below))
        out["general_misaligned"] = np.array(mis)
        out["incoherent"] = np.array(inc)
    return out


def boot(samples: Sequence[np.ndarray], n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, np.ndarray]:
    """(estimate, bootstrap distribution) of the mean over seeds of the item means (NaNs dropped)."""
    arrs = [np.asarray(a, dtype=float) for a in samples]
    arrs = [a[~np.isnan(a)] for a in arrs]
    arrs = [a for a in arrs if a.size]
    if not arrs:
        return math.nan, np.full(n_boot, math.nan)
    est = float(np.mean([a.mean() for a in arrs]))
    rng = np.random.default_rng(seed)
    # item-level resamples per seed, vectorised: [S, n_boot]
    means = np.stack([a[rng.integers(0, a.size, (n_boot, a.size))].mean(axis=1) for a in arrs])
    S = len(arrs)
    if S == 1:
        return est, means[0]
    pick = rng.integers(0, S, (n_boot, S))  # seeds resampled per replicate
    return est, means[pick, np.arange(n_boot)[:, None]].mean(axis=1)


def summarize(est: float, dist: np.ndarray, n: int, n_seeds: int) -> dict[str, Any]:
    ok = dist[~np.isnan(dist)]
    ci = [float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))] if ok.size else [math.nan, math.nan]
    return {"value": est, "ci95": ci, "n": int(n), "seeds": int(n_seeds)}


def _paired_erosion(ref: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Per prompt: reference refused - cell refused (1: a refusal lost)."""
    m = min(len(ref), len(cell))
    return ref[:m] - cell[:m]


def aggregate(study_dir: str | Path, n_boot: int = N_BOOT) -> dict[str, Any]:
    """Read ``study.json`` and the cells' outputs; write ``summary.json``, ``table.csv`` and ``table.md``."""
    root = Path(study_dir)
    st = json.loads((root / "study.json").read_text())
    cfg = st["config"]
    th = Thresholds()
    tasks = {t.get("label") or t["dataset"]: t for t in cfg["tasks"]}
    ref_items = item_values(st["reference"]["eval_dir"], th)

    # group cells (seeds together)
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in st["cells"]:
        c = rec["cell"]
        w = "" if c["weight"] is None else f"@{c['weight']:g}"
        groups.setdefault(f"{c['task']}|{c['defense']}{w}", []).append(rec)

    def metric_samples(recs: list[dict[str, Any]]) -> dict[str, list[np.ndarray]]:
        per: dict[str, list[np.ndarray]] = {}
        for rec in recs:
            items = item_values(rec["eval_dir"], th)
            if "harmful_refusal" in items and "harmful_refusal" in ref_items:
                items["refusal_erosion"] = _paired_erosion(ref_items["harmful_refusal"], items["harmful_refusal"])
            res = json.loads((Path(rec["run_dir"]) / "result.json").read_text())
            fl = res.get("final_loss")
            if fl is not None and "safelora_of" not in res:  # a post-hoc projection's loss is its source's
                items["train_loss"] = np.array([float(fl)])
            for _, b in (rec.get("benign") or {}).items():
                if "records" in b:
                    items["benign_acc"] = np.array([float(r["correct"]) for r in b["records"]])
            h = rec.get("heldout")
            if h and h.get("per_example"):
                items["heldout_loss"] = np.array(h["per_example"], dtype=float)
            for k, v in items.items():
                per.setdefault(k, []).append(v)
        return per

    rows: list[dict[str, Any]] = []
    dists: dict[tuple[str, str], np.ndarray] = {}
    for g, recs in groups.items():
        c = recs[0]["cell"]
        per = metric_samples(recs)
        row: dict[str, Any] = {"group": g, "task": c["task"], "role": tasks[c["task"]]["role"],
                               "defense": c["defense"], "weight": c["weight"],
                               "seeds": sorted(r["cell"]["seed"] for r in recs), "metrics": {}}
        for k, samples in per.items():
            est, dist = boot(samples, n_boot, seed=0)
            n = int(sum(np.sum(~np.isnan(np.asarray(a, float))) for a in samples))
            row["metrics"][k] = summarize(est, dist, n, len(samples))
            dists[(g, k)] = dist
        row["train_wall_s"] = round(sum(r.get("train_wall_s") or 0 for r in recs), 1)
        rows.append(row)

    # the aligned model, as a reference row
    ref_row: dict[str, Any] = {"group": "reference", "task": "(aligned, no fine-tune)", "role": "reference",
                               "defense": "-", "weight": None, "seeds": [], "metrics": {}}
    ref_samples = {k: [v] for k, v in ref_items.items()}
    for bname, b in (st["reference"].get("benign") or {}).items():
        if "records" in b:
            ref_samples["benign_acc"] = [np.array([float(r["correct"]) for r in b["records"]])]
    h = st["reference"].get("heldout")
    if h and h.get("per_example"):
        ref_samples["heldout_loss"] = [np.array(h["per_example"], dtype=float)]
    for k, samples in ref_samples.items():
        est, dist = boot(samples, n_boot, seed=0)
        ref_row["metrics"][k] = summarize(est, dist, int(np.sum(~np.isnan(samples[0]))), 1)

    # EMA contrasts: task - control, same defense / weight / seeds
    contrasts: list[dict[str, Any]] = []
    by_group = {r["group"]: r for r in rows}
    for r in rows:
        t = tasks[r["task"]]
        if t["role"] != "ema":
            continue
        for ctl in t.get("controls", []):
            g2 = r["group"].replace(f"{r['task']}|", f"{ctl}|", 1)
            if g2 not in by_group:
                continue
            cr: dict[str, Any] = {"task": r["task"], "control": ctl, "defense": r["defense"], "weight": r["weight"],
                                  "metrics": {}}
            for k in CONTRAST:
                if (r["group"], k) in dists and (g2, k) in dists:
                    diff = dists[(r["group"], k)] - dists[(g2, k)]
                    est = r["metrics"][k]["value"] - by_group[g2]["metrics"][k]["value"]
                    cr["metrics"][k] = summarize(est, diff, r["metrics"][k]["n"] + by_group[g2]["metrics"][k]["n"],
                                                 r["metrics"][k]["seeds"])
            contrasts.append(cr)

    # benign cost per defense: the benign task's accuracy under each defense
    summary = {"study": cfg["name"], "model": st.get("model"), "base": st.get("base"), "rows": rows,
               "reference": ref_row, "contrasts": contrasts, "metrics": METRICS, "n_boot": n_boot,
               "ci": "95% percentile bootstrap: seeds, then items within seeds",
               "timings": st.get("timings_this_run")}
    write_json_atomic(root / "summary.json", json.loads(json.dumps(summary, default=_nan_json)))
    _write_tables(root, summary)
    return summary


def _nan_json(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return str(x)


def fmt_metric(m: Mapping[str, Any] | None, key: str, ci: bool = True, signed: bool = False) -> str:
    if not m or m.get("value") is None or (isinstance(m["value"], float) and math.isnan(m["value"])):
        return "-"
    spec = METRICS[key]
    s = spec["scale"]
    v = m["value"] * s
    dec = 1 if s == 100 else 3
    sign = "+" if signed else ""
    txt = f"{v:{sign}.{dec}f}"
    lo, hi = m["ci95"]
    if ci and lo is not None and not (isinstance(lo, float) and math.isnan(lo)) and (m.get("n", 0) > 1 or m.get("seeds", 0) > 1):
        txt += f" [{lo * s:{sign}.{dec}f}, {hi * s:{sign}.{dec}f}]"
    return txt


def table_columns(summary: Mapping[str, Any]) -> list[str]:
    """Metrics present anywhere in the table, in METRICS order."""
    have = set(summary["reference"]["metrics"])
    for r in summary["rows"]:
        have |= set(r["metrics"])
    return [k for k in METRICS if k in have]


def _label(r: Mapping[str, Any]) -> str:
    return r["defense"] + ("" if r.get("weight") is None else f" ({r['weight']:g})")


def _write_tables(root: Path, summary: Mapping[str, Any]) -> None:
    cols = table_columns(summary)
    rows = [summary["reference"], *summary["rows"]]
    with open(root / "table.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "role", "defense", "weight", "seeds"] + [x for k in cols for x in (k, f"{k}_lo", f"{k}_hi")])
        for r in rows:
            vals = []
            for k in cols:
                m = r["metrics"].get(k)
                vals += [m["value"], m["ci95"][0], m["ci95"][1]] if m else ["", "", ""]
            w.writerow([r["task"], r["role"], r["defense"], "" if r["weight"] is None else r["weight"],
                        " ".join(map(str, r["seeds"]))] + vals)
    (root / "table.md").write_text(markdown_table(summary) + "\n\n" + markdown_contrasts(summary) + "\n")


def markdown_table(summary: Mapping[str, Any]) -> str:
    cols = table_columns(summary)
    head = ["task", "defense"] + [f"{METRICS[k]['label']} ({METRICS[k]['unit']})" if METRICS[k]["unit"] else
                                  METRICS[k]["label"] for k in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in [summary["reference"], *summary["rows"]]:
        lines.append("| " + " | ".join([r["task"], _label(r)] + [fmt_metric(r["metrics"].get(k), k) for k in cols])
                     + " |")
    return "\n".join(lines)


def markdown_contrasts(summary: Mapping[str, Any]) -> str:
    cs = summary.get("contrasts") or []
    if not cs:
        return ""
    keys = [k for k in CONTRAST if any(k in c["metrics"] for c in cs)]
    head = ["EMA task - control", "defense"] + [METRICS[k]["label"] + f" ({METRICS[k]['unit']})" for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cs:
        lines.append("| " + " | ".join([f"{c['task']} - {c['control']}", _label(c)]
                                       + [fmt_metric(c["metrics"].get(k), k, signed=True) for k in keys]) + " |")
    return "\n".join(lines)
