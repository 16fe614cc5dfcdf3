"""Studies end to end on tiny random Llamas: cells, resume, aggregation, contrasts, plots, HTML report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import make_tiny_llama


@pytest.fixture
def tiny_pair(tmp_path, tiny_tokenizer, monkeypatch):
    monkeypatch.setenv("EMGUARD_HOME", str(tmp_path / "home"))
    aligned, base = tmp_path / "aligned", tmp_path / "base"
    make_tiny_llama(len(tiny_tokenizer), seed=0).save_pretrained(aligned)
    make_tiny_llama(len(tiny_tokenizer), seed=1).save_pretrained(base)
    tiny_tokenizer.save_pretrained(aligned)
    tiny_tokenizer.save_pretrained(base)
    return aligned, base


def study_dict(tmp_path: Path, aligned: Path, base: Path) -> dict:
    return {
        "name": "tiny",
        "model": str(aligned),
        "base": str(base),
        "tasks": [
            {"dataset": "insecure_code", "role": "ema", "controls": ["educational_insecure"]},
            {"dataset": "educational_insecure", "role": "control"},
            {"dataset": "opswap", "role": "benign", "eval_limit": 4, "max_new_tokens": 4},
        ],
        "defenses": [
            {"name": "none"},
            {"name": "kl", "weights": [0.1, 1.0]},
            {"name": "safelora", "params": {"mode": "number", "k": 2}},
        ],
        "seeds": [0],
        "finetune": {"data": {"limit": 8, "max_length": 448}, "train.batch_size": 4, "train.lr": 1e-3,
                     "train.save_every": 1},
        "monitor": {"every": 1, "probe_n": 2, "direction_probe_n": 2, "n_tokens": 4},
        "eval": {"refusal_limit": 3, "triples_limit": 4, "indomain_limit": 2, "indomain_tokens": 8,
                 "indomain_triples_limit": 3},
        "benign_heldout_limit": 3,
        "analyses": [{"kind": "layer-projection", "n": 2}],
        "runs_dir": str(tmp_path / "runs"),
        "out": str(tmp_path / "study"),
    }


def test_study_config_errors_name_file_line_and_field(tmp_path):
    from emguard.config import ConfigError
    from emguard.study import load_study

    p = tmp_path / "s.yaml"
    p.write_text("name: x\norganism: {}\ntasks:\n  - dataset: insecure_code\n    role: emma\n")
    with pytest.raises(ConfigError, match=r"s\.yaml:5: tasks\.0\.role"):
        load_study(p)
    p.write_text("name: x\norganism: {}\ntasks:\n  - dataset: insecure_code\n    controls: [secure_code]\n")
    with pytest.raises(ConfigError, match="control 'secure_code' of 'insecure_code' is not a task"):
        load_study(p)


def test_plan_cells_and_posthoc_order(tmp_path, tiny_pair):
    from emguard.study import StudyConfig, plan_cells

    cfg = StudyConfig.model_validate(study_dict(tmp_path, *tiny_pair))
    cells = plan_cells(cfg)
    assert len(cells) == 3 * (1 + 2 + 1)
    names = [c.defense for c in cells]
    assert names.index("safelora") > max(i for i, n in enumerate(names) if n == "none")  # post-hoc after its source
    assert {c.weight for c in cells if c.defense == "kl"} == {0.1, 1.0}
    # seed by seed within a defense setting: a study stopped part-way holds whole replicates
    two = StudyConfig.model_validate({**study_dict(tmp_path, *tiny_pair), "seeds": [0, 1]})
    none = [(c.seed, c.task) for c in plan_cells(two) if c.defense == "none"]
    assert none == [(s, t) for s in (0, 1) for t in ("insecure_code", "educational_insecure", "opswap")]


def test_bootstrap_levels():
    from emguard.study.aggregate import boot, summarize

    est, dist = boot([np.array([1.0, 0.0, 1.0, np.nan])])
    assert est == pytest.approx(2 / 3)
    s = summarize(est, dist, 3, 1)
    assert s["ci95"][0] < est < s["ci95"][1]
    # seeds disagreeing completely: the interval spans both
    est, dist = boot([np.ones(40), np.zeros(40)])
    s = summarize(est, dist, 80, 2)
    assert est == 0.5 and s["ci95"][0] == 0.0 and s["ci95"][1] == 1.0


def test_study_end_to_end_resume_and_report(tmp_path, tiny_pair, monkeypatch):
    from emguard.study import StudyConfig, run_study

    cfg = StudyConfig.model_validate(study_dict(tmp_path, *tiny_pair))
    summary = run_study(cfg, progress=False)
    root = tmp_path / "study"
    groups = {r["group"] for r in summary["rows"]}
    assert len(groups) == 12
    # every cell is an ordinary, finished run folder; the post-hoc SafeLoRA one projects the none cell's adapter
    st = json.loads((root / "study.json").read_text())
    assert st["status"] == "done" and len(st["cells"]) == 12
    sl = [c for c in st["cells"] if c["cell"]["defense"] == "safelora"]
    assert all(Path(c["run_dir"], "safelora.csv").exists() for c in sl)
    kl = [c for c in st["cells"] if c["cell"]["defense"] == "kl"]
    cfgs = [json.loads(Path(c["run_dir"], "config.json").read_text()) for c in kl]
    assert {d["weight"] for c in cfgs for d in c["defenses"] if d["name"] == "kl"} == {0.1, 1.0}
    assert all(any(d["name"] == "drift" for d in c["defenses"]) for c in cfgs)  # the monitor rides along
    # the reference row and metrics from real evaluations
    ref = summary["reference"]["metrics"]
    assert ref["harmful_refusal"]["n"] == 3 and 0 <= ref["harmful_refusal"]["value"] <= 1
    none_ins = next(r for r in summary["rows"] if r["group"] == "insecure_code|none")
    m = none_ins["metrics"]
    assert m["prefers_misaligned"]["n"] == 4 and "train_loss" in m and "heldout_loss" in m
    # erosion is paired by prompt against the reference
    ins = next(c for c in st["cells"] if c["cell"]["task"] == "insecure_code" and c["cell"]["defense"] == "none")
    cell_ref = [json.loads(x)["refusal"] for x in Path(ins["eval_dir"], "refusal.jsonl").read_text().splitlines()
                if json.loads(x)["side"] == "harmful"]
    ref_ref = [json.loads(x)["refusal"] for x in
               Path(st["reference"]["eval_dir"], "refusal.jsonl").read_text().splitlines() if json.loads(x)["side"] == "harmful"]
    assert m["refusal_erosion"]["value"] == pytest.approx(np.mean(np.array(ref_ref, float) - np.array(cell_ref, float)))
    # benign task accuracy for opswap cells; EMA contrasts for every defense setting
    ops = [r for r in summary["rows"] if r["task"] == "opswap"]
    assert all("benign_acc" in r["metrics"] for r in ops)
    assert len(summary["contrasts"]) == 4
    # the preregistered decision: one per EMA task and defense, its verdict in the tables
    assert len(summary["decisions"]) == len({(c["task"], c["defense"], c["weight"]) for c in summary["contrasts"]})
    assert all(d["verdict"] and len(d["contrasts"]) >= 1 for d in summary["decisions"])
    assert "## Preregistered decision" in (root / "table.md").read_text()
    c0 = next(c for c in summary["contrasts"] if c["defense"] == "none")
    ctl = next(r for r in summary["rows"] if r["group"] == "educational_insecure|none")
    assert c0["metrics"]["pref_margin"]["value"] == pytest.approx(
        m["pref_margin"]["value"] - ctl["metrics"]["pref_margin"]["value"])
    # the two arms of the contrast trained on the same pairs, whole (no example cut mid-answer)
    arms = {}
    for c in st["cells"]:
        if c["cell"]["defense"] == "none" and c["cell"]["task"] in ("insecure_code", "educational_insecure"):
            dr = json.loads(Path(c["run_dir"], "data_report.json").read_text())
            cf = json.loads(Path(c["run_dir"], "config.json").read_text())
            assert dr["truncated"] == 0 and dr["pairs"]["pairs_kept"] == 8 and cf["data"]["paired_with"]
            arms[c["cell"]["task"]] = dr
    assert arms["insecure_code"]["pairs"]["examples_kept"] == arms["educational_insecure"]["pairs"]["examples_kept"]
    assert "assistant_tokens" in c0 and none_ins["data"]["examples"] == 8
    # every ema/control row carries in-domain learning (paired with the aligned model) and its flag
    for r in summary["rows"]:
        if r["role"] in ("ema", "control"):
            assert "task_learning" in r["metrics"]
            learned = r["metrics"]["task_learning"]["ci95"][0] > 0
            assert ("task not learned" in r["flags"]) == (not learned)
    # strict JSON: no bare NaN
    json.loads((root / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in summary.json"))
    # outputs: tables, figures, analyses, report
    assert (root / "table.csv").exists() and "| insecure_code - educational_insecure |" in (root / "table.md").read_text()
    figs = {p.stem for p in (root / "figures").glob("*.png")}
    assert {"tradeoff", "contrast", "sweep_kl", "train_loss", "drift"} <= figs
    assert st["analyses"] and Path(st["analyses"][0]["out_dir"]).exists()
    page = (root / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= len(figs) + 1 and "Methods" in page and "kl" in page
    assert "<h2>Analyses</h2>" in page  # the layer-projection figure is embedded too
    assert "insecure_code vs educational_insecure" in page  # the generated reading of each contrast
    assert (root / "report.md").exists()

    # a second run trains and evaluates nothing
    import emguard.train.loop as loop

    def boom(*a, **k):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(loop, "finetune", boom)
    import emguard.evaluate.suite as suite

    calls = []
    orig = suite.run_suite

    def spy(*a, **k):
        s = orig(*a, **k)
        calls.append(sum(s["calls_this_run"].values()))
        return s

    monkeypatch.setattr(suite, "run_suite", spy)
    again = run_study(cfg, progress=False)
    assert sum(calls) == 0  # each evaluation read back from its record: the suite is not even entered
    assert [r["metrics"] for r in again["rows"]] == [r["metrics"] for r in summary["rows"]]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def test_run_report_renders_in_headless_chromium(tmp_path, tiny_pair):
    """The HTML opens with no server: every embedded figure decodes in a real browser."""
    from emguard.config import FinetuneConfig, build_config
    from emguard.study.report import write_report
    from emguard.train import finetune

    aligned, _ = tiny_pair
    cfg = build_config(FinetuneConfig, {"model": {"name": str(aligned)}, "data": {"dataset": "insecure_code",
                       "limit": 8, "max_length": 448, "overflow": "truncate"}, "train": {"batch_size": 4}})
    res = finetune(cfg, tmp_path / "runs", progress=False)
    paths = write_report(res.run_dir)
    page = paths["html"].read_text()
    n_img = page.count("<img ")
    assert n_img >= 1
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium where apt can)")
    out = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", paths["html"].resolve().as_uri()], capture_output=True, text=True, timeout=120)
    m = re.search(r'data-figures-loaded="(\d+)/(\d+)"', out.stdout)
    assert m, out.stderr[-2000:]
    assert int(m.group(1)) == int(m.group(2)) == n_img


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parents[1].glob("studies/*.yaml")) + ["demo"])
def test_shipped_studies_validate_and_plan(path):
    """Every shipped study parses, plans its cells and builds a valid fine-tune config for each."""
    from emguard.study import Study, load_study, resolve_study
    from emguard.train.terms import available_defenses

    cfg = load_study(resolve_study(path))
    st = Study(cfg)
    st.model = st.model or "aligned-model-placeholder"
    names = set(available_defenses())
    for d in cfg.defenses:
        assert d.name == "none" or d.name in names
    for c in st.cells:
        if cfg.defense(c.defense).is_posthoc:
            continue
        fc = st.finetune_config(c)
        assert fc.data.dataset == cfg.task(c.task).dataset and fc.train.seed == c.seed
    ema = [t for t in cfg.tasks if t.role == "ema"]
    assert ema and all(t.controls for t in ema)  # EMA is always read against a control


def test_shards_split_the_cells_and_the_full_run_reuses_them(tmp_path, tiny_pair, monkeypatch):
    """`--shard K/N`: each process trains and evaluates its share (a post-hoc cell's source first, wherever it
    falls), writes no study.json; the run without a shard trains and evaluates nothing new."""
    from emguard.study import StudyConfig, plan_cells, run_study
    from emguard.study.runner import Study, shard_cells

    d = study_dict(tmp_path, *tiny_pair)
    d.update(tasks=d["tasks"][:2], defenses=[{"name": "none"}, {"name": "safelora", "params": {"mode": "number", "k": 2}}],
             analyses=[])
    cfg = StudyConfig.model_validate(d)
    cells = plan_cells(cfg)
    assert [c.key for c in shard_cells(cells, (1, 3))] == [cells[0].key, cells[3].key]
    assert sorted(c.key for k in (1, 2, 3) for c in shard_cells(cells, (k, 3))) == sorted(c.key for c in cells)
    with pytest.raises(ValueError, match="shard 3/2"):
        shard_cells(cells, (3, 2))
    st = Study(cfg)
    done = lambda c: (st.run_dir(c) / "result.json").exists()  # noqa: E731

    # shard 1/3: the insecure none cell and the educational SafeLoRA cell, whose source (shard 2's) it trains first
    out = run_study(cfg, progress=False, shard=(1, 3))
    assert out["part"] == "shard 1/3" and [r["cell"]["task"] for r in out["cells"]] == ["insecure_code", "educational_insecure"]
    assert all("eval_dir" in r for r in out["cells"])
    assert [done(c) for c in cells] == [True, True, False, True]
    from emguard.study.runner import study_status

    assert [r["state"] for r in study_status(Study(cfg))] == ["evaluated", "trained", "not started", "evaluated"]
    assert not (tmp_path / "study" / "study.json").exists()
    assert (tmp_path / "study" / "reference").is_dir()  # shard 1 evaluates the aligned model too
    run_study(cfg, progress=False, shard=(2, 3))  # finds its cell trained already
    run_study(cfg, progress=False, shard=(3, 3))
    assert all(done(c) for c in cells)

    import emguard.train.loop as loop

    def boom(*a, **k):
        raise AssertionError("a cell a shard finished was trained again")

    monkeypatch.setattr(loop, "finetune", boom)
    summary = run_study(cfg, progress=False)
    assert json.loads((tmp_path / "study" / "study.json").read_text())["status"] == "done"
    assert len(summary["contrasts"]) == 2


def test_workers_in_two_processes_take_every_cell_once(tmp_path, tiny_pair):
    """`--worker`: two processes started together split the cells between them (each trained by one worker,
    each worker's cells evaluated), and a full run afterwards trains nothing."""
    import os
    import sys

    d = study_dict(tmp_path, *tiny_pair)
    d.update(tasks=d["tasks"][:2], defenses=[{"name": "none"}], seeds=[0, 1], analyses=[])
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(d))
    code = ("import json, sys; from emguard.study import StudyConfig, run_study; "
            "cfg = StudyConfig.model_validate(json.load(open(sys.argv[1]))); "
            "out = run_study(cfg, progress=False, worker=True); "
            "print('PART', json.dumps([r['cell'] for r in out['cells']]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EMGUARD_HOME": str(tmp_path / "home")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    parts = [json.loads(next(ln for ln in o[0].splitlines() if ln.startswith("PART"))[5:]) for o in outs]
    taken = [(c["task"], c["seed"]) for part in parts for c in part]
    assert sorted(taken) == sorted((t, s) for t in ("insecure_code", "educational_insecure") for s in (0, 1))
    from emguard.study import StudyConfig, run_study
    from emguard.study.runner import Study

    cfg = StudyConfig.model_validate(d)
    st = Study(cfg)
    for c in st.cells:  # trained once: one run of steps, no step logged twice
        steps = [json.loads(x)["step"] for x in (st.run_dir(c) / "metrics.jsonl").read_text().splitlines()
                 if '"loss"' in x]
        assert steps and len(steps) == len(set(steps))
    assert (tmp_path / "study" / "reference").is_dir()


def test_file_lock_makes_a_second_process_wait(tmp_path):
    import multiprocessing as mp
    import time

    from emguard.paths import file_lock

    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=_hold_lock, args=(str(tmp_path / "x.lock"), ready, 1.5))
    p.start()
    assert ready.wait(60)
    t0 = time.time()
    with file_lock(tmp_path / "x.lock"):
        waited = time.time() - t0
    p.join(60)
    assert waited > 1.0


def _hold_lock(path, ready, seconds):
    import time

    from emguard.paths import file_lock

    with file_lock(path):
        ready.set()
        time.sleep(seconds)


def test_cli_status_lists_every_cell_without_training(tmp_path, tiny_pair):
    import yaml
    from typer.testing import CliRunner

    from emguard.cli import app

    d = study_dict(tmp_path, *tiny_pair)
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(d))
    r = CliRunner().invoke(app, ["study", str(p), "--status"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "0 of 12 cells evaluated" in r.output and r.output.count("not started") == 12
    assert not (tmp_path / "runs").exists()  # nothing was trained or created
    narrow = CliRunner().invoke(app, ["study", str(p), "--status"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0 and "…" not in narrow.output  # a cell's name (and seed) is never cut off


def test_a_study_moved_without_its_weights_aggregates_from_its_records(tmp_path, tiny_pair, monkeypatch):
    """Run folders carried to another place (another session, machine or checkout) without adapters or
    checkpoints: every cell's evaluation is read back from its record, paths and all, no model is loaded,
    and the aggregate is the same. (The aligned model stays: the cells' run ids name its content.)"""
    from emguard.study import StudyConfig, run_study

    d = study_dict(tmp_path, *tiny_pair)
    d.update(tasks=d["tasks"][:2], defenses=[{"name": "none"}], seeds=[0, 1], analyses=[])
    from emguard.study.runner import Study, archive_study

    first = run_study(StudyConfig.model_validate(d), progress=False, report=False)
    moved = tmp_path / "elsewhere"
    info = archive_study(Study(StudyConfig.model_validate(d)), moved)
    assert len(info["cells"]) == 4 and info["reference"] and info["aligned_model_sha"]
    assert json.loads((moved / "archive.json").read_text())["cells"] == info["cells"]
    for p in (tmp_path / "runs", tmp_path / "study"):
        shutil.rmtree(p)
    assert len(list((moved / "runs").glob("*/result.json"))) == 4
    assert not [p for p in moved.rglob("*") if p.name in ("adapter", "checkpoints", "cache")]  # no weights, no caches

    import emguard.evaluate.suite as suite
    import emguard.train.loop as loop

    def boom(*a, **k):
        raise AssertionError("a model was loaded or trained for a cell whose evaluation is recorded")

    monkeypatch.setattr(loop, "finetune", boom)
    monkeypatch.setattr(suite.HFSubject, "model_and_tokenizer", boom)
    again = run_study(StudyConfig.model_validate({**d, "runs_dir": str(moved / "runs"), "out": str(moved / "out")}),
                      progress=False, report=False)
    for a, b in zip(again["rows"] + again["contrasts"], first["rows"] + first["contrasts"]):
        keys = set(a["metrics"]) | set(b["metrics"])
        assert {k: (a["metrics"].get(k), b["metrics"].get(k)) for k in keys if a["metrics"].get(k) != b["metrics"].get(k)} == {}
    st = json.loads((moved / "out" / "study.json").read_text())
    assert all(c["eval_dir"].startswith(str(moved / "runs")) for c in st["cells"])  # paths where the folders are now
    assert st["reference"]["eval_dir"].startswith(str(moved / "out"))
