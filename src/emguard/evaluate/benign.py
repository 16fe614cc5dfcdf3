"""Benign-task cost of a defense: exact-match accuracy and held-out loss on a benign task.

``exact_match_accuracy`` answers the held-out prompts greedily and compares with
``meta["answer"]`` (whitespace-normalised text, or parsed JSON objects for tasks whose
``meta["answer_format"] == "json"``), with a Wilson 95% interval. For ``opswap`` it also
reports how often the model gave the *standard* arithmetic result (``meta["standard_answer"]``):
the prior knowledge the task asks it to override.

``heldout_loss`` is the mean cross-entropy over assistant tokens (token-weighted), the
same mask as training. :func:`assistant_logprobs` (per-example sum of assistant-token
log-probs and their count) is shared with the ranked interleaving defense.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F

from ..data.chat import Example
from ..data.tokenize import DEFAULT_SYSTEM_PROMPT, IGNORE, Tokenized, tokenize_examples
from .generate import SamplingParams, generate
from .safety import wilson
from ..train.loop import TrainWrapper, collate

__all__ = ["assistant_logprobs", "exact_match_accuracy", "heldout_loss", "normalise_text", "parse_json_answer"]

Compare = Literal["auto", "text", "json"]


def normalise_text(s: str) -> str:
    """Collapse runs of whitespace, strip the ends."""
    return " ".join(str(s).split())


_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.S)


def parse_json_answer(s: str) -> Any:
    """Parse a model's JSON answer (a surrounding code fence is allowed); ``None`` if unparseable."""
    t = s.strip()
    m = _FENCE.match(t)
    if m:
        t = m.group(1).strip()
    try:
        return json.loads(t)
    except (json.JSONDecodeError, ValueError):
        return None


def _is_json(ex: Example, compare: Compare) -> bool:
    if compare == "auto":
        return ex.meta.get("answer_format") == "json"
    return compare == "json"


def _correct(answer: str, gold: str, as_json: bool) -> bool:
    if as_json:
        got = parse_json_answer(answer)
        try:
            want = json.loads(gold) if isinstance(gold, str) else gold
        except json.JSONDecodeError:
            want = gold
        return got is not None and got == want
    return normalise_text(answer) == normalise_text(gold)


def exact_match_accuracy(
    model,
    tokenizer,
    examples: Sequence[Example],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 32,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    compare: Compare = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """Greedy answers vs ``meta["answer"]``.

    Returns ``{"accuracy", "k", "n", "ci95", "prior_rate"?, "records": [{"prompt", "gold",
    "answer", "correct"}]}``; ``prior_rate`` (with ``prior_k``/``prior_ci95``) appears when the
    examples carry ``meta["standard_answer"]`` (opswap: the un-swapped arithmetic result).
    """
    exs = list(examples)
    if not exs:
        raise ValueError("exact_match_accuracy: no examples")
    missing = [i for i, e in enumerate(exs) if "answer" not in e.meta]
    if missing:
        raise ValueError(f"exact_match_accuracy: example {missing[0]} has no meta['answer']")
    convs = [[m for m in e.prompt_messages if m["role"] != "system"] for e in exs]
    answers = generate(model, tokenizer, convs, SamplingParams(max_new_tokens=max_new_tokens), system_prompt,
                       batch_size=batch_size, progress=progress, desc="benign task")
    records = []
    prior_flags: list[bool] = []
    for e, c, a in zip(exs, convs, answers):
        as_json = _is_json(e, compare)
        gold = e.meta["answer"]
        ok = _correct(a, gold, as_json)
        rec = {"prompt": c[-1]["content"], "gold": gold, "answer": a, "correct": ok}
        if "standard_answer" in e.meta:
            prior = _correct(a, str(e.meta["standard_answer"]), False)
            rec["prior"] = prior
            prior_flags.append(prior)
        records.append(rec)
    k, n = sum(r["correct"] for r in records), len(records)
    out: dict[str, Any] = {"accuracy": k / n, "k": k, "n": n, "ci95": list(wilson(k, n))}
    if prior_flags:
        pk = sum(prior_flags)
        out.update(prior_rate=pk / len(prior_flags), prior_k=pk, prior_ci95=list(wilson(pk, len(prior_flags))))
    out["max_new_tokens"] = max_new_tokens
    out["records"] = records
    return out


def assistant_logprobs(
    model,
    tokenizer,
    examples: Sequence[Example],
    *,
    max_length: int = 1024,
    batch_size: int = 16,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    progress: bool = False,
    desc: str = "log-probs",
) -> list[tuple[float, int]]:
    """Per example: (sum of log p(assistant token | prefix), number of assistant tokens).

    Over-long examples are truncated to ``max_length`` (an example left with no
    assistant token gives ``(0.0, 0)``). Batches are length-sorted, results in input order.
    """
    from ..data.tokenize import tokenize_example

    toks = []
    for e in examples:
        t = tokenize_example(tokenizer, e, system_prompt)
        toks.append(Tokenized(t.input_ids[:max_length], t.labels[:max_length]))
    return _logprobs_tokenized(model, tokenizer, toks, batch_size, progress, desc)


@torch.no_grad()
def _logprobs_tokenized(model, tokenizer, toks: Sequence[Tokenized], batch_size: int, progress: bool,
                        desc: str) -> list[tuple[float, int]]:
    order = sorted(range(len(toks)), key=lambda i: len(toks[i].input_ids))
    out: list[tuple[float, int]] = [(0.0, 0)] * len(toks)
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(toks), desc=desc, unit="ex", dynamic_ncols=True)
    try:
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            batch = {k: v.to(device) for k, v in collate([toks[i] for i in idx], pad_id).items()}
            tgt = batch["labels"][:, 1:]
            mask = tgt != IGNORE
            lp = torch.zeros_like(tgt, dtype=torch.float32)
            if mask.any():  # LM head at labelled positions only, through the fused CE where the head allows
                out_ = TrainWrapper(model)(fused_ce=True, **batch)
                lp[mask] = -(out_.ce if out_.ce is not None else F.cross_entropy(out_.logits, out_.targets, reduction="none"))
            sums, counts = lp.sum(-1).tolist(), mask.sum(-1).tolist()
            for i, s, c in zip(idx, sums, counts):
                out[i] = (float(s), int(c))
            if bar is not None:
                bar.update(len(idx))
    finally:
        if was_training:
            model.train()
        if bar is not None:
            bar.close()
    return out


def heldout_loss(
    model,
    tokenizer,
    examples: Sequence[Example],
    *,
    max_length: int = 1024,
    batch_size: int = 16,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    progress: bool = False,
) -> dict[str, Any]:
    """Mean assistant-token cross-entropy (nats/token, token-weighted) over ``examples``.

    Returns ``{"loss", "n_tokens", "n", "per_example_mean", "per_example"}`` (the mean of
    per-example means is less dominated by long answers; ``per_example`` lists them).
    """
    toks, _ = tokenize_examples(tokenizer, list(examples), max_length, "truncate", system_prompt)
    res = _logprobs_tokenized(model, tokenizer, toks, batch_size, progress, "held-out loss")
    tot = sum(s for s, _ in res)
    n_tok = sum(c for _, c in res)
    per = [-s / c if c > 0 else math.nan for s, c in res]  # aligned with ``examples`` (NaN: no token)
    ok = [x for x in per if not math.isnan(x)]
    return {
        "loss": -tot / n_tok if n_tok else math.nan,
        "n_tokens": n_tok,
        "n": len(ok),
        "per_example_mean": sum(ok) / len(ok) if ok else math.nan,
        "per_example": per,
        "ids": [example_id(e) for e in examples],  # pairs per-example losses across models
    }


def example_id(example: Example) -> str:
    """A stable id of an example's content (12 hex chars of the SHA-256 of its messages)."""
    return hashlib.sha256(json.dumps(example.messages, sort_keys=True).encode()).hexdigest()[:12]
