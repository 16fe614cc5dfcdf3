"""Batched generation (evaluate/generate.py): left padding matches batch 1; min_new_tokens fixes the length."""

from __future__ import annotations

from emguard.evaluate.generate import SamplingParams, generate

CONVS = [[{"role": "user", "content": t}] for t in
         ("Write a function.", "The capital of France is Paris. 2 + 2 = 4. Write a function that reads a file.",
          "Please ask something else.", "import os")]


def _count_forwards(model):
    calls = []
    h = model.register_forward_hook(lambda m, a, kw_out: calls.append(1))
    return calls, h


def test_batched_greedy_equals_batch_one(tiny_model, tiny_tokenizer):
    import torch

    with torch.no_grad():  # larger weights: the random model's greedy answers differ between prompts
        for w in tiny_model.parameters():
            if w.dim() == 2:
                w.mul_(30)
    p = SamplingParams(max_new_tokens=6)
    one = generate(tiny_model, tiny_tokenizer, CONVS, p, "SYS", batch_size=1)
    four = generate(tiny_model, tiny_tokenizer, CONVS, p, "SYS", batch_size=4)  # left-padded batch
    assert one == four and len(set(one)) > 1


def test_min_new_tokens_suppresses_eos(tiny_model, tiny_tokenizer):
    eos = tiny_tokenizer.eos_token_id

    def push_eos(_m, _a, out):  # a model that always wants to stop at once
        out.logits[..., eos] += 1e4
        return out

    h = tiny_model.register_forward_hook(push_eos)
    try:
        calls, h2 = _count_forwards(tiny_model)
        ans = generate(tiny_model, tiny_tokenizer, CONVS[:2], SamplingParams(max_new_tokens=5), "SYS", batch_size=2)
        assert ans == ["", ""] and len(calls) == 1  # stopped after the first token
        calls.clear()
        ans = generate(tiny_model, tiny_tokenizer, CONVS[:2], SamplingParams(max_new_tokens=5, min_new_tokens=5), "SYS",
                       batch_size=2)
        assert len(calls) == 5 and len(ans) == 2  # exactly 5 new tokens: EOS suppressed until then
        h2.remove()
    finally:
        h.remove()
