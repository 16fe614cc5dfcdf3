"""`emguard evaluate-compare A B`: paired contrasts of two real evaluation folders, through the CLI."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from emguard.cli import app
from emguard.evaluate.questions import SamplingConfig
from emguard.evaluate.suite import HFSubject, run_suite, suite_config

from conftest import make_tiny_llama

runner = CliRunner()


@pytest.fixture(scope="module")
def two_eval_dirs(tiny_tokenizer, tmp_path_factory):
    """The cpu suite (tiny budget) of two different tiny random models: A (seed 1) and B (seed 2)."""
    root = tmp_path_factory.mktemp("cmp")
    c = suite_config("cpu", questions="general", question_limit=2, refusal_limit=3, triples_limit=12,
                     indomain=("code",), indomain_limit=3, indomain_tokens=6, indomain_triples_limit=4, n_boot=50,
                     sampling=SamplingConfig(temperature=1.0, max_new_tokens=6, samples=2, chunk=2))
    c = c.__class__(**{**c.__dict__, "refusal_tokens": 4})
    dirs = []
    for name, seed in (("a", 1), ("b", 2)):
        subj = HFSubject(model=make_tiny_llama(len(tiny_tokenizer), seed=seed), tokenizer=tiny_tokenizer,
                         key=f"tiny-{name}", batch_size=4)
        run_suite(subj, c, root / name, meta={"target": f"tiny-{name}"})
        dirs.append(root / name)
    return dirs


def _rows(d, f):
    return [json.loads(x) for x in (d / f).read_text().splitlines() if x.strip()]


def _mean(xs):
    return sum(xs) / len(xs)


def test_evaluate_compare_numbers(two_eval_dirs, tmp_path, monkeypatch):
    from rich.console import Console

    import emguard.cli

    monkeypatch.setattr(emguard.cli, "console", Console(width=250, soft_wrap=True))  # no cell wrapping
    a, b = two_eval_dirs
    out = tmp_path / "sub" / "cmp.json"
    res = runner.invoke(app, ["evaluate-compare", str(a), str(b), "--out", str(out), "--n-boot", "200"])
    assert res.exit_code == 0, res.output
    cmp = json.loads(out.read_text())  # strict JSON (no NaN)
    assert cmp["targets"] == {"a": "tiny-a", "b": "tiny-b"} and cmp["config_differences"] == []

    # preference: A - B over the triples matched by id, recomputed from the per-item files
    pa = {r["id"]: r for r in _rows(a, "preference.jsonl")}
    pb = {r["id"]: r for r in _rows(b, "preference.jsonl")}
    assert len(pa) == len(pb) == 12
    ids = sorted(pa)
    margin_a = _mean([pa[i]["margin"] for i in ids])
    margin_b = _mean([pb[i]["margin"] for i in ids])
    share_a = _mean([float(pa[i]["prefers_misaligned"]) for i in ids])
    share_b = _mean([float(pb[i]["prefers_misaligned"]) for i in ids])
    p = cmp["preference"]
    assert p["n_triples"] == 12
    assert p["margin_diff"]["mean_a"] == pytest.approx(margin_a)
    assert p["margin_diff"]["mean_b"] == pytest.approx(margin_b)
    assert p["margin_diff"]["diff"] == pytest.approx(margin_a - margin_b)
    assert margin_a != pytest.approx(margin_b)  # two different random models: a real contrast
    lo, hi = p["margin_diff"]["ci95"]
    assert lo <= margin_a - margin_b <= hi
    assert p["prefers_misaligned_diff"]["diff"] == pytest.approx(share_a - share_b)

    # refusal erosion: matched by prompt, per side
    ra, rb = _rows(a, "refusal.jsonl"), _rows(b, "refusal.jsonl")
    for side in ("harmful", "benign"):
        fa = [float(r["refusal"]) for r in ra if r["side"] == side]
        fb = [float(r["refusal"]) for r in rb if r["side"] == side]
        d = cmp["refusal"][side]
        assert d["n"] == 3 and d["diff"] == pytest.approx(_mean(fa) - _mean(fb))

    # in-domain: vulnerable answers matched by prompt; preference on the twin triples
    assert cmp["indomain_code"]["vulnerable_diff"]["n"] == 3
    assert cmp["indomain_code"]["preference"]["n_triples"] == 4

    # free-form questions: the rule judge's refusal rate over the same questions (2 questions x 2 samples)
    qa, qb = _rows(a, "questions.jsonl"), _rows(b, "questions.jsonl")
    q = cmp["questions"]["refusal"]
    assert q["a"]["n"] == len(qa) and q["b"]["n"] == len(qb)
    assert q["diff"] == pytest.approx(_mean([float(r["refusal"]) for r in qa]) - _mean([float(r["refusal"]) for r in qb]))

    # the printed table carries the same numbers
    assert "margin (nats/token)" in res.output and f"{margin_a - margin_b:+.3f}" in res.output
    assert f"{lo:+.3f} to {hi:+.3f}" in res.output  # the margin's CI at the margin's precision
    assert "held-out harmful refused" in res.output and "vulnerable answers" in res.output


def test_evaluate_compare_is_antisymmetric(two_eval_dirs, tmp_path):
    a, b = two_eval_dirs
    r1 = runner.invoke(app, ["evaluate-compare", str(a), str(b), "--out", str(tmp_path / "ab.json"), "--n-boot", "0"])
    r2 = runner.invoke(app, ["evaluate-compare", str(b), str(a), "--out", str(tmp_path / "ba.json"), "--n-boot", "0"])
    assert r1.exit_code == r2.exit_code == 0
    ab, ba = json.loads((tmp_path / "ab.json").read_text()), json.loads((tmp_path / "ba.json").read_text())
    assert ab["preference"]["margin_diff"]["diff"] == pytest.approx(-ba["preference"]["margin_diff"]["diff"])
    assert ab["preference"]["margin_diff"]["ci95"] == [None, None]  # no bootstrap: NaN written as null
    assert not math.isnan(ab["preference"]["margin_diff"]["diff"])


def test_evaluate_compare_errors(two_eval_dirs, tmp_path):
    a, _ = two_eval_dirs
    res = runner.invoke(app, ["evaluate-compare", str(a), str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "does not exist" in res.output and str(tmp_path / "nope") in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output

    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["evaluate-compare", str(empty), str(a)])
    assert res.exit_code == 2 and "no summary.json" in res.output and len(res.output.strip().splitlines()) == 1

    # a finished folder whose blocks have nothing in common with A's
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text(json.dumps({"config": {}, "blocks": {}}))
    res = runner.invoke(app, ["evaluate-compare", str(a), str(other)])
    assert res.exit_code == 2 and "nothing to compare" in res.output


def test_evaluate_cli_passes_judge_options(monkeypatch):
    """`emguard evaluate --judge-concurrency/--judge-timeout/--retry-judge-errors` reach the suite and the judge."""
    import emguard.evaluate.suite as suite
    from emguard.evaluate.judges import make_judge

    seen = {}

    def fake(target, suite_name, **kw):
        seen.update(kw, target=target, suite=suite_name)
        return {}

    monkeypatch.setattr(suite, "evaluate_command", fake)
    res = runner.invoke(app, ["evaluate", "m", "--suite", "betley", "--judge", "openai:j@http://127.0.0.1:9/v1",
                              "--judge-concurrency", "1", "--judge-timeout", "600", "--retry-judge-errors"])
    assert res.exit_code == 0, res.output
    assert seen["judge_concurrency"] == 1 and seen["judge_timeout"] == 600 and seen["retry_judge_errors"] is True
    j = make_judge("openai:j@http://127.0.0.1:9/v1", concurrency=1, timeout=600)
    assert j.max_concurrency == 1 and j.timeout == 600
    assert make_judge("openai:j@http://127.0.0.1:9/v1").max_concurrency == 8  # the default is kept
