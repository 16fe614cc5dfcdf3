"""A defense's loss term must reach the optimizer, scaled by its weight, through the real loop.

The spy tests elsewhere call ``backward()`` on a term themselves, so they stay green if
the loop's ``loss + t.weight * v`` became ``t.weight * v.detach()`` (every defense a
no-op) or ``loss + v`` (weight ignored). This test runs :func:`finetune` for one
optimizer step with the term at weights 0, w and 2w and reads the gradients the
optimizer sees: they must move linearly in w, by exactly w times the term's own gradient
(divided by the step's labelled-token count, the loop's normalisation), and the saved
adapters must differ.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_pre_hook

from emguard.config import FinetuneConfig, build_config
from emguard.train import finetune
from emguard.train.terms import LossTerm

from conftest import make_tiny_llama, tiny_run_adapter


class LogitSum(LossTerm):
    """Sum over labelled tokens of the mean logit: nonzero gradient on lora_B at initialisation."""

    name = "test_logit_sum"
    needs_logits = True

    def compute(self, ctx):
        return ctx.out.logits.float().mean(-1).sum()


def _one_step(tmp_path, tokenizer, weight: float | None, tag: str):
    grads: dict[str, torch.Tensor] = {}

    def hook(opt, args, kwargs):
        for g in opt.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    grads[str(len(grads))] = p.grad.detach().clone()

    handle = register_optimizer_step_pre_hook(hook)
    try:
        cfg = build_config(FinetuneConfig, {"data": {"dataset": "insecure_code", "limit": 4, "max_length": 512,
                                                     "overflow": "truncate"},
                                            "train": {"max_steps": 1, "batch_size": 4, "max_grad_norm": None,
                                                      "warmup_ratio": 0.0, "lr": 1e-3}})
        extra = [] if weight is None else [LogitSum(weight=weight)]
        res = finetune(cfg, tmp_path / tag, model=make_tiny_llama(len(tokenizer)), tokenizer=tokenizer,
                       progress=False, extra_defenses=extra)
    finally:
        handle.remove()
    adapter = load_file(str(res.run_dir / "adapter" / "adapter_model.safetensors"))
    n_tok = json.loads((res.run_dir / "data_report.json").read_text())["assistant_tokens"]
    return torch.cat([grads[k].flatten() for k in sorted(grads, key=int)]), adapter, n_tok


def _term_gradient(tokenizer, n_tok_expected):
    """The term's own gradient at initialisation, on the same batch, outside the loop."""
    from emguard.data.load import load_examples
    from emguard.data.tokenize import tokenize_examples
    from emguard.train.loop import TrainWrapper, add_lora, collate

    cfg = FinetuneConfig()
    model = add_lora(make_tiny_llama(len(tokenizer)), cfg.lora, cfg.train.seed)
    exs = load_examples("insecure_code", "train", 0, 4)
    data, _ = tokenize_examples(tokenizer, exs, 512, "truncate")
    batch = collate(data, tokenizer.pad_token_id)
    out = TrainWrapper(model)(**batch)
    n_tok = int(out.targets.numel())
    assert n_tok == n_tok_expected

    class Ctx:
        pass

    ctx = Ctx()
    ctx.out = out
    LogitSum().compute(ctx).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad]), n_tok


def test_term_weight_scales_the_optimizer_update(tmp_path, tiny_tokenizer):
    w = 0.5
    g_none, a_none, n_tok = _one_step(tmp_path, tiny_tokenizer, None, "none")
    g0, a0, _ = _one_step(tmp_path, tiny_tokenizer, 0.0, "w0")
    g1, a1, _ = _one_step(tmp_path, tiny_tokenizer, w, "w1")
    g2, a2, _ = _one_step(tmp_path, tiny_tokenizer, 2 * w, "w2")
    assert torch.allclose(g0, g_none, atol=1e-7)  # weight 0 = no term
    d1, d2 = g1 - g0, g2 - g0
    assert d1.abs().max() > 1e-4, "the term did not reach the optimizer (detached?)"
    assert torch.allclose(d2, 2 * d1, rtol=1e-3, atol=1e-6), "the update does not scale with the weight"
    term_grad, n = _term_gradient(tiny_tokenizer, n_tok)
    assert torch.allclose(d1, w * term_grad / n, rtol=1e-3, atol=1e-6)
    # and the saved adapters differ
    key = next(k for k in a0 if "lora_B" in k)
    assert not torch.equal(a0[key], a1[key]) and not torch.equal(a1[key], a2[key])


def test_data_and_posthoc_defenses_reach_the_saved_adapter(tmp_path, tiny_tokenizer):
    """Non-loss defenses: interleaving changes the data, SafeLoRA projects the adapter before it is saved."""
    def run(defenses, tag):
        return tiny_run_adapter(tmp_path, tiny_tokenizer, defenses, tag, overflow="truncate")

    plain, _ = run([], "plain")
    inter, _ = run([{"name": "interleave", "params": {"share": 0.5}}], "inter")
    key = next(k for k in plain if "lora_B" in k)
    assert any(not torch.equal(plain[k], inter[k]) for k in plain)
    base = tmp_path / "base"
    make_tiny_llama(len(tiny_tokenizer), seed=1).save_pretrained(base)
    tiny_tokenizer.save_pretrained(base)
    proj, res = run([{"name": "safelora", "params": {"mode": "number", "k": 1, "base_model": str(base)}}], "sl")
    changed = [k for k in plain if not torch.equal(plain[k], proj[k])]
    assert changed and all("lora_B" in k for k in changed), key  # only B is projected, and it reached the file
