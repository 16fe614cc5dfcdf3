"""Batched generation: left padding, KV cache, greedy or sampled, with an explicit system prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..data.tokenize import DEFAULT_SYSTEM_PROMPT, prompt_text


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0
    min_new_tokens: int = 0  # > 0: EOS is suppressed until then (fixed-length answers for benchmarks)


@torch.no_grad()
def generate(
    model,
    tokenizer,
    conversations: Sequence[Sequence[dict[str, str]]],
    params: SamplingParams = SamplingParams(),
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    batch_size: int = 16,
    progress: bool = False,
    desc: str = "generate",
) -> list[str]:
    """Answer each conversation (a list of messages ending with the user's turn).

    Conversations are sorted by length so each batch pads little; answers come back
    in input order. Sampling is seeded per batch, so results do not depend on which
    other prompts are being generated elsewhere.
    """
    texts = [prompt_text(tokenizer, conv, system_prompt) for conv in conversations]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=desc, unit="prompt", dynamic_ncols=True)
    was_training = model.training
    model.eval()
    try:
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            kw = dict(max_new_tokens=params.max_new_tokens, pad_token_id=tokenizer.pad_token_id, use_cache=True)
            if params.min_new_tokens > 0:
                kw["min_new_tokens"] = min(params.min_new_tokens, params.max_new_tokens)
            if params.temperature > 0:
                torch.manual_seed(params.seed * 100_003 + b)
                kw.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
            else:
                kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            gen = model.generate(**enc, **kw)
            new = gen[:, enc["input_ids"].shape[1] :]
            for i, row in zip(idx, new):
                out[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
            if bar is not None:
                bar.update(len(idx))
    finally:
        tokenizer.padding_side = old_side
        if was_training:
            model.train()
        if bar is not None:
            bar.close()
    return out
