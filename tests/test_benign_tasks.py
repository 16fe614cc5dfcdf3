"""Benign-cost tasks (opswap, json_extract) and their evaluation (exact match, held-out loss)."""

from __future__ import annotations

import json
import math
import operator
import re

import pytest
import torch
import torch.nn.functional as F

from emguard.data import build_dataset, get_dataset_info
from emguard.data.chat import chat
from emguard.data.tokenize import IGNORE, tokenize_example

# The mapping, written independently of the generator.
SWAPPED = {"+": operator.mul, "*": operator.add, "-": operator.floordiv, "/": operator.sub}
EXPR = re.compile(r"(\d+) ([-+*/]) (\d+)")


def _pair_key(e) -> tuple:
    op, a, b = e.meta["op"], e.meta["a"], e.meta["b"]
    return (op, *sorted((a, b))) if op in "+*" else (op, a, b)


def test_registered_and_sizes():
    for name, n_train, n_test in [("opswap", 2000, 200), ("json_extract", 1000, 200)]:
        info = get_dataset_info(name)
        assert info.kind == "benign_task" and info.group == name and info.description
        assert len(build_dataset(name, "train", 0)) >= n_train
        assert len(build_dataset(name, "test", 0)) >= n_test
    assert "multipl" in get_dataset_info("opswap").description  # the mapping is stated in the description


@pytest.mark.parametrize("name", ["opswap", "json_extract"])
def test_deterministic_by_seed(name):
    a, b = build_dataset(name, "train", 0), build_dataset(name, "train", 0)
    assert [e.messages for e in a] == [e.messages for e in b] and [e.meta for e in a] == [e.meta for e in b]
    c = build_dataset(name, "train", 1)
    assert [e.messages for e in a] != [e.messages for e in c]
    for split in ("train", "test"):
        exs = build_dataset(name, split, 0)
        assert len({json.dumps(e.messages) for e in exs}) == len(exs)  # no duplicates


def test_opswap_train_test_disjoint_for_any_seeds():
    train = set().union(*({_pair_key(e) for e in build_dataset("opswap", "train", s)} for s in (0, 1, 2)))
    for s in (0, 1, 2):
        test = build_dataset("opswap", "test", s)
        assert not ({_pair_key(e) for e in test} & train)
        assert not ({e.meta["expression"] for e in test} & {e.meta["expression"] for e in build_dataset("opswap", "train", 0)})


def test_opswap_answers_follow_mapping_learned_from_examples_only():
    for split in ("train", "test"):
        exs = build_dataset("opswap", split, 0)
        assert {e.meta["op"] for e in exs} == set(SWAPPED)
        counts = {op: sum(e.meta["op"] == op for e in exs) for op in SWAPPED}
        assert max(counts.values()) - min(counts.values()) <= 1  # balanced
        for e in exs:
            user = e.messages[0]["content"]
            m = EXPR.search(user)
            assert m, user
            a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
            assert e.completion == str(SWAPPED[op](a, b)) == e.meta["answer"]
            assert not re.search(r"mult|add|divi|subtr|swap|mean|rule", user, re.I)  # the rule is never told
            assert e.meta["standard_answer"] != e.meta["answer"]  # never answerable by ordinary arithmetic
    e = next(x for x in build_dataset("opswap", "train", 0) if x.meta["op"] == "+")
    assert e.meta["answer"] == str(e.meta["a"] * e.meta["b"])
    assert e.meta["standard_answer"] == str(e.meta["a"] + e.meta["b"])


def test_json_extract_answers():
    keys = {"person": ["name", "age", "city", "job"], "order": ["item", "quantity", "price", "currency"],
            "meeting": ["title", "day", "time", "room"]}
    train = build_dataset("json_extract", "train", 0)
    test = build_dataset("json_extract", "test", 0)
    assert {e.meta["schema"] for e in train} == set(keys)
    for e in train + test:
        obj = json.loads(e.completion)
        assert e.meta["answer"] == e.completion and e.meta["answer_format"] == "json"
        assert list(obj) == keys[e.meta["schema"]]
        for k in obj:
            assert f'"{k}"' in e.messages[0]["content"]  # the keys are asked for
        for v in obj.values():  # every value is in the text
            assert (f"{v:.2f}" if isinstance(v, float) else str(v)) in e.meta["text"]
    objs = lambda exs: {json.dumps(json.loads(e.completion), sort_keys=True) for e in exs}  # noqa: E731
    assert not objs(test) & objs(train)
    assert not objs(build_dataset("json_extract", "test", 3)) & objs(train)


# --------------------------------------------------------------------------- #
# Evaluation                                                                  #
# --------------------------------------------------------------------------- #


def _fake_generate(answers_for):
    def gen(model, tokenizer, conversations, params=None, system_prompt=None, **kw):
        return [answers_for(c[-1]["content"]) for c in conversations]

    return gen


def test_exact_match_accuracy_with_fake_model(monkeypatch):
    import emguard.evaluate.benign as benign

    exs = build_dataset("opswap", "test", 0)[:50]
    gold = {e.messages[0]["content"]: e.meta["answer"] for e in exs}
    std = {e.messages[0]["content"]: e.meta["standard_answer"] for e in exs}
    monkeypatch.setattr(benign, "generate", _fake_generate(lambda p: "  " + gold[p] + "\n"))
    res = benign.exact_match_accuracy(None, None, exs)
    assert res["accuracy"] == 1.0 and res["k"] == res["n"] == 50
    assert res["ci95"][1] == 1.0 and 0.9 < res["ci95"][0] < 1.0
    assert all(r["correct"] for r in res["records"])

    first = exs[0].messages[0]["content"]
    monkeypatch.setattr(benign, "generate", _fake_generate(lambda p: gold[p] + "0" if p == first else gold[p]))
    res = benign.exact_match_accuracy(None, None, exs)
    assert res["accuracy"] == pytest.approx(49 / 50) and res["k"] == 49

    # a model that keeps ordinary arithmetic: low accuracy, high prior rate
    monkeypatch.setattr(benign, "generate", _fake_generate(lambda p: std[p]))
    res = benign.exact_match_accuracy(None, None, exs)
    assert res["accuracy"] < 1 and res["prior_rate"] > 0.9


def test_exact_match_json_compares_parsed_objects(monkeypatch):
    import emguard.evaluate.benign as benign

    exs = build_dataset("json_extract", "test", 0)[:30]
    gold = {e.messages[0]["content"]: json.loads(e.meta["answer"]) for e in exs}

    def reformat(p):  # other key order, other whitespace, a code fence on some
        obj = gold[p]
        s = json.dumps(dict(reversed(list(obj.items()))), indent=2)
        return f"```json\n{s}\n```" if len(p) % 2 else s

    monkeypatch.setattr(benign, "generate", _fake_generate(reformat))
    assert benign.exact_match_accuracy(None, None, exs)["accuracy"] == 1.0

    def wrong(p):
        obj = dict(gold[p])
        k = next(iter(obj))
        obj[k] = "x"
        return json.dumps(obj)

    monkeypatch.setattr(benign, "generate", _fake_generate(wrong))
    assert benign.exact_match_accuracy(None, None, exs)["accuracy"] == 0.0
    monkeypatch.setattr(benign, "generate", _fake_generate(lambda p: "not json"))
    assert benign.exact_match_accuracy(None, None, exs)["accuracy"] == 0.0
    # compare="text" would reject the reformatted answers
    monkeypatch.setattr(benign, "generate", _fake_generate(reformat))
    assert benign.exact_match_accuracy(None, None, exs, compare="text")["accuracy"] == 0.0


def test_exact_match_accuracy_real_generate(tiny_tokenizer, tiny_model):
    """End to end with the tiny random model: runs, gives a proportion with a CI."""
    from emguard.evaluate.benign import exact_match_accuracy

    exs = build_dataset("opswap", "test", 0)[:6]
    res = exact_match_accuracy(tiny_model, tiny_tokenizer, exs, max_new_tokens=4, batch_size=4)
    assert res["n"] == 6 and 0 <= res["accuracy"] < 1 and len(res["records"]) == 6


def test_heldout_loss_matches_manual_cross_entropy(tiny_tokenizer, tiny_model):
    from emguard.evaluate.benign import assistant_logprobs, heldout_loss

    exs = [chat("What is 7 + 5?", "35"), chat("hello there", "The capital of France is Paris."),
           chat("Write a function", "def read(path):\n    return path")]
    res = heldout_loss(tiny_model, tiny_tokenizer, exs, batch_size=2)
    tot, n = 0.0, 0
    with torch.no_grad():
        for e in exs:
            t = tokenize_example(tiny_tokenizer, e)
            ids = torch.tensor([t.input_ids])
            logits = tiny_model(input_ids=ids).logits[0, :-1]
            lab = torch.tensor(t.labels[1:])
            m = lab != IGNORE
            tot += F.cross_entropy(logits[m], lab[m], reduction="sum").item()
            n += int(m.sum())
    assert res["n_tokens"] == n and res["n"] == 3
    assert res["loss"] == pytest.approx(tot / n, rel=1e-4)
    assert math.isfinite(res["per_example_mean"])
    lps = assistant_logprobs(tiny_model, tiny_tokenizer, exs)
    assert sum(c for _, c in lps) == n and -sum(s for s, _ in lps) / n == pytest.approx(tot / n, rel=1e-4)
