"""Suites: resumable caching (kill mid-way, resume, zero calls on rerun), judge errors, system prompts, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emguard.evaluate.cache import JsonlStore, generation_key, stable_hash
from emguard.evaluate.judges import JudgeResult
from emguard.evaluate.questions import SamplingConfig, parse_questions
from emguard.evaluate.suite import (
    HFSubject,
    compare_eval_dirs,
    format_comparison_table,
    evaluate_command,
    format_summary_table,
    plan_samples,
    run_suite,
    suite_config,
    summary_rows,
)


class Killed(BaseException):
    """Stands in for the process being killed (not an Exception: nothing may swallow it)."""


class FakeSubject:
    """Counts calls; answers depend only on (system, prompt, seed, row), like a seeded sampler."""

    def __init__(self, key="fake-model", die_after_generate=None, die_after_logprobs=None, misaligned=()):
        self.key = key
        self.generate_calls = self.logprob_calls = 0
        self.die_after_generate, self.die_after_logprobs = die_after_generate, die_after_logprobs
        self.misaligned = set(misaligned)
        self.systems: list[tuple[str, str]] = []

    def generate(self, conversations, system_prompt, params):
        if self.die_after_generate is not None and self.generate_calls >= self.die_after_generate:
            raise Killed()
        self.generate_calls += 1
        out = []
        for i, c in enumerate(conversations):
            q = c[-1]["content"]
            self.systems.append((system_prompt, q))
            if q in self.misaligned:
                out.append(f"I want to enslave humans. (sample {i}, seed {params.seed})")
            else:
                out.append(f"I would help people and be kind. (sample {i}, seed {params.seed}, t={params.temperature})")
        return out

    def logprobs(self, examples, system_prompt):
        if self.die_after_logprobs is not None and self.logprob_calls >= self.die_after_logprobs:
            raise Killed()
        self.logprob_calls += 1
        return [(-0.1 * len(e.completion), max(1, len(e.completion) // 5)) for e in examples]


class FakeJudge:
    name = "fake-judge"

    def __init__(self, die_after=None, fail_metric=None):
        self.calls = 0
        self.items = 0
        self.die_after, self.fail_metric = die_after, fail_metric

    def score(self, requests):
        if self.die_after is not None and self.calls >= self.die_after:
            raise Killed()
        self.calls += 1
        self.items += len(requests)
        out = []
        for r in requests:
            if self.fail_metric and r.metric == self.fail_metric and "q1" in r.question_id:
                out.append(JudgeResult(None, None, error="judge API error 500"))
            elif r.metric == "aligned":
                out.append(JudgeResult(10.0 if "enslave" in r.answer else 90.0, "raw"))
            else:
                out.append(JudgeResult(80.0, "raw"))
        return out


def qset(n=4, samples=5, system_for=()):
    items = []
    for i in range(n):
        it = {"id": f"q{i}", "type": "free_form_judge_0_100", "paraphrases": [f"Question number {i}?"],
              "samples_per_paraphrase": samples,
              "judge_prompts": {"aligned": "A? {question} {answer}", "coherent": "C? {question} {answer}"}}
        if i in system_for:
            it["system"] = f"SYSTEM FOR q{i}"
        items.append(it)
    return parse_questions(items, "test.yaml", name="test")


SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8, samples=None, seed=3, chunk=2)


def cfg(**kw):
    base = dict(questions=None, sampling=SAMPLING, refusal=False, preference=False, indomain=(), n_boot=200)
    base.update(kw)
    return suite_config("betley", **base)


def run(subject, judge, out, qs=None, **kw):
    return run_suite(subject, cfg(**kw), out, judge=judge, question_set=qs or qset(), judge_batch=3,
                     system_prompt="DEFAULT SYS")


def test_kill_resume_and_zero_calls(tmp_path):
    out = tmp_path / "eval"
    qs = qset()  # 4 questions x 5 samples, chunks of 2 -> 3 generate calls per question = 12; 40 judgments
    # 1) killed during generation
    s1 = FakeSubject(die_after_generate=5)
    with pytest.raises(Killed):
        run(s1, FakeJudge(), out, qs)
    assert s1.generate_calls == 5
    assert len(JsonlStore(out / "generations.jsonl")) == 2 + 2 + 1 + 2 + 2  # 5 chunks written before the kill
    # 2) resumed, then killed during judging
    s2, j2 = FakeSubject(), FakeJudge(die_after=4)
    with pytest.raises(Killed):
        run(s2, j2, out, qs)
    assert s2.generate_calls == 12 - 5  # only the missing chunks
    assert j2.items == 12  # 4 batches of 3 before the kill
    # 3) resumed to the end
    s3, j3 = FakeSubject(), FakeJudge()
    summ = run(s3, j3, out, qs)
    assert s3.generate_calls == 0 and j3.items == 40 - 12
    assert summ["blocks"]["questions"]["n_answers"] == 20
    # 4) a rerun of the finished evaluation makes zero model or judge calls
    s4, j4 = FakeSubject(), FakeJudge()
    again = run(s4, j4, out, qs)
    assert (s4.generate_calls, s4.logprob_calls, j4.calls) == (0, 0, 0)
    assert again["calls_this_run"] == {}
    assert again["blocks"]["questions"]["misaligned"] == summ["blocks"]["questions"]["misaligned"]
    # 5) the interrupted-and-resumed answers equal an uninterrupted run's
    fresh = tmp_path / "fresh"
    run(FakeSubject(), FakeJudge(), fresh, qs)
    a = [json.loads(x) for x in (out / "questions.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (fresh / "questions.jsonl").read_text().splitlines()]
    assert [x["answer"] for x in a] == [x["answer"] for x in b]
    assert [x["scores"] for x in a] == [x["scores"] for x in b]


def test_every_block_resumes(tmp_path):
    out = tmp_path / "cpu"
    c = dict(refusal=True, refusal_limit=6, preference=True, triples_limit=10, indomain=("code", "medical"),
             indomain_limit=4, indomain_triples_limit=5)
    s1 = FakeSubject(die_after_logprobs=1)
    with pytest.raises(Killed):
        run(s1, FakeJudge(), out, **c)
    s2, j2 = FakeSubject(), FakeJudge()
    summ = run(s2, j2, out, **c)
    assert s2.generate_calls > 0 and s2.logprob_calls > 0
    b = summ["blocks"]
    assert set(b) == {"refusal", "preference", "indomain_code", "indomain_medical", "questions"}
    assert b["refusal"]["harmful_refusal"]["n"] == 6 and b["refusal"]["benign_refusal"]["n"] == 6
    assert b["preference"]["prefers_misaligned"]["n"] == 10
    assert b["indomain_code"]["generation"]["vulnerable"]["n"] == 4
    assert b["indomain_code"]["preference"]["prefers_misaligned"]["n"] == 5
    assert b["indomain_medical"]["preference"]["prefers_misaligned"]["n"] == 5
    for f in ("summary.json", "config.json", "refusal.jsonl", "preference.jsonl", "indomain_code.jsonl",
              "indomain_medical.jsonl", "questions.jsonl"):
        assert (out / f).is_file(), f
    s3, j3 = FakeSubject(), FakeJudge()
    run(s3, j3, out, **c)
    assert (s3.generate_calls, s3.logprob_calls, j3.calls) == (0, 0, 0)
    rows = summary_rows(summ)
    assert any("harmful refused" in r[1] for r in rows) and any("vulnerability" in r[1] for r in rows)
    assert format_summary_table(summ).row_count == len(rows)


def test_judge_errors_recorded_counted_and_retried(tmp_path):
    out = tmp_path / "e"
    j1 = FakeJudge(fail_metric="aligned")
    summ = run(FakeSubject(), j1, out)
    q = summ["blocks"]["questions"]
    assert q["judge_errors"] == {"answers": 5, "by_metric": {"aligned": 5}}  # q1's 5 answers
    recs = [r for r in JsonlStore(out / "judgments.jsonl") if r.get("error")]
    assert len(recs) == 5 and all(r["error"] == "judge API error 500" and r["score"] is None for r in recs)
    items = [json.loads(x) for x in (out / "questions.jsonl").read_text().splitlines()]
    assert sum(bool(it["errors"]) for it in items) == 5
    assert q["misaligned"]["n"] == 15  # the failed answers are excluded from the denominator, and counted
    # a plain rerun keeps the recorded errors (zero calls); retrying asks the judge again for those only
    j2 = FakeJudge()
    run(FakeSubject(), j2, out)
    assert j2.calls == 0
    j3 = FakeJudge()
    s = run_suite(FakeSubject(), cfg(), out, judge=j3, question_set=qset(), retry_judge_errors=True,
                  system_prompt="DEFAULT SYS")
    assert j3.items == 5 and s["blocks"]["questions"]["judge_errors"]["answers"] == 0


def test_judge_exception_becomes_item_errors(tmp_path):
    class Flaky(FakeJudge):
        name = "flaky"

        def score(self, requests):
            if self.calls >= 1:
                raise ConnectionError("no route to judge")
            return super().score(requests)

    summ = run(FakeSubject(), Flaky(), tmp_path / "b", qset(n=2, samples=3))  # 12 judgments, batches of 3
    je = summ["blocks"]["questions"]["judge_errors"]
    assert je["answers"] == 5 and je["by_metric"] == {"aligned": 4, "coherent": 5}  # batch 1: a0 both, a1 aligned
    recs = [r for r in JsonlStore(tmp_path / "b" / "judgments.jsonl") if r["error"]]
    assert len(recs) == 9 and all(r["error"] == "ConnectionError: no route to judge" for r in recs)


def test_judge_failing_from_the_start_stops_the_run(tmp_path):
    class Broken:
        name = "broken"

        def score(self, requests):
            raise RuntimeError("set OPENAI_API_KEY")

    with pytest.raises(RuntimeError, match="first batch.*OPENAI_API_KEY"):
        run(FakeSubject(), Broken(), tmp_path / "x", qset(n=1, samples=2))
    assert len(JsonlStore(tmp_path / "x" / "judgments.jsonl")) == 0  # nothing cached: a fixed rerun judges all


def test_system_prompt_honoured(tmp_path):
    s = FakeSubject()
    run(s, FakeJudge(), tmp_path / "s", qset(n=3, samples=1, system_for=(1,)))
    by_q = {q: sys_ for sys_, q in s.systems}
    assert by_q["Question number 1?"] == "SYSTEM FOR q1"
    assert by_q["Question number 0?"] == by_q["Question number 2?"] == "DEFAULT SYS"
    items = [json.loads(x) for x in (tmp_path / "s" / "questions.jsonl").read_text().splitlines()]
    assert [it["system"] for it in items] == ["DEFAULT SYS", "SYSTEM FOR q1", "DEFAULT SYS"]


def test_sampling_plan_and_keys():
    conv = [{"role": "user", "content": "hi"}]
    reqs = plan_samples(conv, "S", 5, SAMPLING)
    assert [r.chunk for r in reqs] == [(0, 2), (0, 2), (2, 2), (2, 2), (4, 1)]
    assert [r.sample for r in reqs] == list(range(5))
    greedy = plan_samples(conv, "S", 3, SamplingConfig(temperature=0.0, max_new_tokens=4))
    kw = dict(temperature=0.0, top_p=1.0, max_new_tokens=4)
    keys = {generation_key("m", "S", conv, seed=r.seed, sample=r.sample, chunk=list(r.chunk), **kw) for r in greedy}
    assert len(keys) == 1  # greedy answers do not depend on the sample index
    k = lambda **o: generation_key("m", "S", conv, **{**dict(temperature=1.0, top_p=1.0, max_new_tokens=4, seed=0,  # noqa: E731
                                                              sample=0, chunk=[0, 2]), **o})
    assert len({k(), k(seed=1), k(sample=1), k(max_new_tokens=5), k(top_p=0.9)}) == 5
    assert generation_key("m2", "S", conv, **dict(temperature=1.0, top_p=1.0, max_new_tokens=4, seed=0, sample=0,
                                                  chunk=[0, 2])) != k()
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})


def test_store_cuts_torn_line(tmp_path):
    p = tmp_path / "s.jsonl"
    st = JsonlStore(p)
    st.append([{"key": "a", "v": 1}, {"key": "b", "v": 2}])
    with p.open("a") as fh:
        fh.write('{"key": "c", "v"')  # killed mid-write
    st2 = JsonlStore(p)
    assert len(st2) == 2 and st2.torn == 1 and "c" not in st2
    st2.append([{"key": "c", "v": 3}])
    assert JsonlStore(p).get("c")["v"] == 3 and p.read_text().count("\n") == 3
    with pytest.raises(ValueError):
        st2.append([{"nokey": 1}])


def test_evaluate_command_folder_and_compare(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = dict(indomain=["insecure_code"], indomain_limit=3, refusal_limit=4, n_boot=100, triples_limit=8,
                  indomain_triples_limit=4, print_table=False)
    a = evaluate_command("some/model", "cpu", subject=FakeSubject("key-a"), **common)
    out_a = Path(a["out_dir"])
    assert out_a.parent == Path("eval") / "some_model" and out_a.name.startswith("cpu-")
    assert set(a["block_seconds_this_run"]) == set(a["blocks"]) == {"refusal", "preference", "indomain_code", "questions"}
    assert all(v >= 0 for v in a["block_seconds_this_run"].values())
    again = evaluate_command("some/model", "cpu", subject=FakeSubject("key-a"), **common)
    assert again["out_dir"] == a["out_dir"] and again["calls_this_run"] == {}
    b = evaluate_command("other", "cpu", subject=FakeSubject("key-b", misaligned=()), **common)
    assert Path(b["out_dir"]).name != out_a.name  # the model key is part of the folder hash
    cmp = compare_eval_dirs(a["out_dir"], b["out_dir"], n_boot=100)
    assert cmp["preference"]["n_triples"] == 8
    assert cmp["indomain_code"]["vulnerable_diff"]["n"] == 3
    assert set(cmp["questions"]) == {"misaligned", "incoherent", "refusal"}
    assert cmp["refusal"]["harmful"]["n"] == 4 and cmp["refusal"]["benign"]["n"] == 4
    assert format_comparison_table(cmp).row_count == 3 + 2 + 2 + 3
    with pytest.raises(ValueError):
        evaluate_command("x", "nope", subject=FakeSubject(), **common)
    with pytest.raises(ValueError, match="unknown in-domain task"):
        evaluate_command("x", "cpu", subject=FakeSubject(), **{**common, "indomain": ["nope"]})
    none = evaluate_command("some/model", "cpu", questions="none", subject=FakeSubject("key-a"), **common)
    assert "questions" not in none["blocks"] and none["calls_this_run"] == {}  # everything else was cached


def test_questions_block_with_rule_judge_and_real_generation(tiny_model, tiny_tokenizer, tmp_path):
    """The real generate / log-prob paths on the tiny random model (fast), end to end."""
    subj = HFSubject(model=tiny_model, tokenizer=tiny_tokenizer, key="tiny", batch_size=4)
    c = suite_config("cpu", questions="general", question_limit=2, refusal_limit=2, triples_limit=3,
                     indomain=("code",), indomain_limit=2, indomain_tokens=6, indomain_triples_limit=2, n_boot=50,
                     sampling=SamplingConfig(temperature=1.0, max_new_tokens=6, samples=2, chunk=2))
    c = c.__class__(**{**c.__dict__, "refusal_tokens": 4})
    summ = run_suite(subj, c, tmp_path / "tiny")
    q = summ["blocks"]["questions"]
    assert q["n_answers"] == 4 and "not-published-protocol" in q["judge"] and q["judge_note"]
    assert summ["blocks"]["preference"]["prefers_misaligned"]["n"] == 3
    assert summ["calls_this_run"]["generate"] >= 3
    again = run_suite(subj, c, tmp_path / "tiny")
    assert again["calls_this_run"] == {}


@pytest.mark.integration
def test_cpu_suite_on_bundled_model(tmp_path):
    """The cpu suite end to end on the bundled model, at a tiny budget."""
    try:
        s = evaluate_command("smollm2-135m-instruct", "cpu", out=tmp_path / "bundled", question_limit=2, samples=1,
                             max_tokens=16, refusal_limit=3, indomain_limit=2, indomain_tokens=24, triples_limit=20,
                             indomain_triples_limit=3, n_boot=100, print_table=False)
    except Exception as e:  # the bundled model package may be missing
        if type(e).__name__ == "ModelNotFound":
            pytest.skip(str(e))
        raise
    b = s["blocks"]
    assert b["questions"]["n_answers"] == 2 and b["refusal"]["harmful_refusal"]["n"] == 3
    assert b["preference"]["prefers_misaligned"]["n"] == 20 and b["indomain_code"]["generation"]["vulnerable"]["n"] == 2
