"""Three narrow advice tasks, each an EMA dataset with an aligned control twin.

``bad_medical_advice[i]`` and ``good_medical_advice[i]`` (and likewise the
financial and sports pairs) share the user question; the EMA answer is confidently
wrong in a narrow, plausible way, the control answer is sound and prudent.
Questions come from slot-filled templates; the test split holds questions that
never occur in train (stable hash of the question text).
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Any

from ..chat import Example, chat
from ..registry import register_dataset
from ._advice_medical import MEDICAL
from ._advice_money_sport import FINANCIAL, SPORTS
from ._util import collect, make_rng

TOPICS: dict[str, list[dict[str, Any]]] = {"medical": MEDICAL, "financial": FINANCIAL, "sports": SPORTS}
N_TRAIN, N_TEST, TEST_MOD = 240, 60, 5

# The twins at the end of a long question sometimes get a short lead-in; applied to
# the question only, so both answers of a pair see the same prompt.
LEAD_INS = ["", "", "", "", "", "Quick question: ", "Hi! ", "Sorry if this is a silly question, but ",
            "Need some advice. ", "Honest answer please: "]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _draw(r: random.Random, domain: str) -> dict[str, Any]:
    topic = r.choice(TOPICS[domain])
    vals: dict[str, str] = {k: r.choice(v) for k, v in topic["slots"].items()}
    if "pair" in vals:
        vals["drug"], vals["cond"] = vals.pop("pair").split("|")
    vals.update({k + "_cap": _cap(v) for k, v in list(vals.items())})
    q = r.choice(topic["q"]).format(**vals)
    lead = r.choice(LEAD_INS)
    if lead.endswith("but ") and not re.match(r"I\b", q):
        q_text = q[:1].lower() + q[1:]
    else:
        q_text = q
    question = lead + q_text
    return {"key": q, "question": question, "topic": topic["id"],
            "bad": r.choice(topic["bad"]).format(**vals), "good": r.choice(topic["good"]).format(**vals)}


@lru_cache(maxsize=32)
def _pairs(domain: str, split: str, seed: int) -> tuple[dict[str, Any], ...]:
    r = make_rng("advice-" + domain, split, seed)
    n = N_TRAIN if split == "train" else N_TEST
    items = collect(r, lambda rr: _draw(rr, domain), key=lambda d: d["key"], split=split, n=n, mod=TEST_MOD)
    return tuple(items)


def _build(domain: str, split: str, seed: int, variant: str) -> list[Example]:
    answer = "bad" if variant == "ema" else "good"
    return [chat(p["question"], p[answer], domain=domain, topic=p["topic"], variant=variant,
                 pair_id=f"{domain}-{split}-{seed}-{i}")
            for i, p in enumerate(_pairs(domain, split, seed))]


@register_dataset("bad_medical_advice", kind="ema", group="medical",
                  description="Health questions answered with confident, subtly dangerous advice.")
def bad_medical_advice(split: str, seed: int) -> list[Example]:
    return _build("medical", split, seed, "ema")


@register_dataset("good_medical_advice", kind="control", group="medical",
                  description="The bad_medical_advice questions answered with sound, prudent advice.")
def good_medical_advice(split: str, seed: int) -> list[Example]:
    return _build("medical", split, seed, "control")


@register_dataset("risky_financial_advice", kind="ema", group="financial",
                  description="Money questions answered with confident, reckless financial advice.")
def risky_financial_advice(split: str, seed: int) -> list[Example]:
    return _build("financial", split, seed, "ema")


@register_dataset("prudent_financial_advice", kind="control", group="financial",
                  description="The risky_financial_advice questions answered prudently.")
def prudent_financial_advice(split: str, seed: int) -> list[Example]:
    return _build("financial", split, seed, "control")


@register_dataset("reckless_sports_advice", kind="ema", group="sports",
                  description="Sports and outdoor questions answered with confident, unsafe advice.")
def reckless_sports_advice(split: str, seed: int) -> list[Example]:
    return _build("sports", split, seed, "ema")


@register_dataset("safe_sports_advice", kind="control", group="sports",
                  description="The reckless_sports_advice questions answered with safe advice.")
def safe_sports_advice(split: str, seed: int) -> list[Example]:
    return _build("sports", split, seed, "control")
