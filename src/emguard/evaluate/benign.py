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
from ..train.loop import TrainWrapper, collate, head_ce, unwrap

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


def _answer_span(t: Tokenized) -> tuple[int, int] | None:
    """(start, end) of the one labelled span of ``t``, if every label outside it is IGNORE (a single
    assistant turn at the end, maybe followed by unlabelled template tokens: the shape whose prompt can
    be shared), else None."""
    lab = [x != IGNORE for x in t.labels]
    if not any(lab) or lab[0]:
        return None
    start = lab.index(True)
    end = len(lab) - lab[::-1].index(True)
    return (start, end) if all(lab[start:end]) else None


def prefix_groups(toks: Sequence[Tokenized]) -> tuple[list[list[int]], list[int]]:
    """Indices of examples that share their whole prompt (every token before a final assistant answer),
    grouped; and the rest. E.g. the two answers of a preference triple."""
    by_prompt: dict[tuple[int, ...], list[int]] = {}
    rest = []
    for i, t in enumerate(toks):
        span = _answer_span(t)
        if span is None:
            rest.append(i)
        else:
            by_prompt.setdefault(tuple(t.input_ids[:span[0]]), []).append(i)
    groups = []
    for g in by_prompt.values():
        if len(g) > 1:
            groups.append(g)
        else:
            rest += g
    return groups, sorted(rest)


def _shared_prompt_batch(toks: Sequence[Tokenized], groups: Sequence[Sequence[int]], pad_id: int, dtype: torch.dtype,
                         device) -> tuple[dict[str, torch.Tensor], list[tuple[int, int, int, int]]]:
    """One packed row per group: ``prompt + answer_1 + ... + answer_g``; each answer sees the prompt and its
    own earlier tokens (4D mask), at the positions it would have alone (position ids). Returns the model
    inputs and, per scored token, (row, position whose output predicts it, target id, example index)."""
    rows = []
    for g in groups:
        spans = [_answer_span(toks[i]) for i in g]
        a0 = spans[0][0]  # type: ignore[index]
        answers = [toks[i].input_ids[a:e] for i, (a, e) in zip(g, spans)]  # type: ignore[misc]
        ids, pos, seg = list(toks[g[0]].input_ids[:a0]), list(range(a0)), [0] * a0
        for j, ans in enumerate(answers, start=1):
            ids += ans
            pos += range(a0, a0 + len(ans))
            seg += [j] * len(ans)
        rows.append((ids, pos, seg, a0, answers))
    L = max(len(r[0]) for r in rows)
    B = len(rows)
    input_ids = torch.full((B, L), pad_id, dtype=torch.long)
    position_ids = torch.zeros((B, L), dtype=torch.long)
    allowed = torch.zeros((B, L, L), dtype=torch.bool)
    scored: list[tuple[int, int, int, int]] = []
    for b, (ids, pos, seg, a0, answers) in enumerate(rows):
        n = len(ids)
        input_ids[b, :n] = torch.tensor(ids)
        position_ids[b, :n] = torch.tensor(pos)
        sg = torch.tensor(seg)
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        same = (sg[:, None] == sg[None, :]) | (sg[None, :] == 0)  # own answer, or the prompt
        allowed[b, :n, :n] = causal & same
        allowed[b, torch.arange(n, L), torch.arange(n, L)] = True  # padding attends to itself only
        start = a0
        for i, ans in zip(groups[b], answers):
            prev = [a0 - 1] + list(range(start, start + len(ans) - 1))  # the last prompt token, then its own
            scored += [(b, p, t, i) for p, t in zip(prev, ans)]
            start += len(ans)
    mask = torch.zeros((B, 1, L, L), dtype=dtype).masked_fill_(~allowed[:, None], torch.finfo(dtype).min)
    return ({"input_ids": input_ids.to(device), "position_ids": position_ids.to(device),
             "attention_mask": mask.to(device)}, scored)


@torch.no_grad()
def _logprobs_tokenized(model, tokenizer, toks: Sequence[Tokenized], batch_size: int, progress: bool,
                        desc: str, share_prompts: bool = True) -> list[tuple[float, int]]:
    out: list[tuple[float, int]] = [(0.0, 0)] * len(toks)
    base = unwrap(model)
    groups, alone = prefix_groups(toks) if share_prompts and hasattr(base, "get_decoder") else ([], list(range(len(toks))))
    order = sorted(alone, key=lambda i: len(toks[i].input_ids))
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(toks), desc=desc, unit="ex", dynamic_ncols=True)
    try:
        # examples sharing their prompt (a triple's two answers): one packed forward of the prompt per group
        groups.sort(key=lambda g: sum(len(toks[i].input_ids) for i in g))
        per_batch = max(1, batch_size // 2)
        dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
        for b in range(0, len(groups), per_batch):
            chunk = groups[b : b + per_batch]
            inputs, scored = _shared_prompt_batch(toks, chunk, pad_id, dtype, device)
            h = base.get_decoder()(**inputs, use_cache=False).last_hidden_state
            rows, pos, tgt, ex = (torch.tensor(c, device=device) for c in zip(*scored))
            lp = -head_ce(model, h[rows, pos], tgt)
            sums = torch.zeros(len(toks), dtype=lp.dtype, device=device).index_add_(0, ex, lp)
            counts = torch.zeros(len(toks), dtype=torch.long, device=device).index_add_(0, ex, torch.ones_like(ex))
            for i in {int(e) for e in ex.tolist()}:
                out[i] = (float(sums[i]), int(counts[i]))
            if bar is not None:
                bar.update(sum(len(g) for g in chunk))
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
