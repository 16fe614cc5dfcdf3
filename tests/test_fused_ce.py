"""The fused LM-head cross-entropy equals the full-logits CE, value and gradient, and the loop uses it."""

import pytest
import torch
import torch.nn.functional as F

from emguard.train.fused_ce import linear_cross_entropy
from emguard.train.loop import TrainWrapper, ce_from_logits
from emguard.train.terms import FusedCEOut

from conftest import make_tiny_llama


@pytest.mark.parametrize("chunk_elements", [7 * 50, 10**9])  # 7 rows per chunk (ragged last chunk), one chunk
def test_values_and_input_gradient_match_full_logits_under_any_row_weights(chunk_elements):
    g = torch.Generator().manual_seed(0)
    n, d, v = 23, 16, 50
    w = torch.randn(v, d, generator=g)
    t = torch.randint(0, v, (n,), generator=g)
    rw = torch.rand(n, generator=g)  # per-row upstream weights, not a plain sum
    h1 = torch.randn(n, d, generator=g, dtype=torch.float64).float().requires_grad_()
    h2 = h1.detach().clone().requires_grad_()
    ref = F.cross_entropy(h1 @ w.t(), t, reduction="none")
    got = linear_cross_entropy(h2, w, t, chunk_elements=chunk_elements)
    assert torch.allclose(got, ref, atol=1e-5, rtol=1e-5)
    (ref * rw).sum().backward()
    (got * rw).sum().backward()
    assert torch.allclose(h2.grad, h1.grad, atol=1e-6, rtol=1e-5)


def test_refuses_a_trainable_head_and_computes_nothing_for_grad_without_need():
    w = torch.randn(10, 4, requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        linear_cross_entropy(torch.randn(3, 4), w, torch.tensor([1, 2, 3]))
    out = linear_cross_entropy(torch.randn(3, 4), w.detach(), torch.tensor([1, 2, 3]))
    assert out.shape == (3,) and not out.requires_grad


def test_wrapper_fused_ce_equals_the_logits_path_and_reaches_the_same_gradient(tiny_tokenizer):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(make_tiny_llama(len(tiny_tokenizer)), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    wrapper = TrainWrapper(model)
    ids = torch.randint(3, len(tiny_tokenizer), (2, 12))
    labels = ids.clone()
    labels[:, :5] = -100
    b = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    plain = wrapper(**b)
    fused = wrapper(fused_ce=True, **b)
    assert isinstance(fused, FusedCEOut) and not isinstance(plain, FusedCEOut)
    with pytest.raises(RuntimeError, match="needs_logits"):
        fused.logits  # noqa: B018
    ce_plain, ce_fused = ce_from_logits(plain), fused.ce.sum()
    assert torch.allclose(ce_fused, ce_plain, rtol=1e-5)
    g1, g2 = grads(ce_plain), grads(ce_fused)
    assert g1.keys() == g2.keys() and len(g1) > 0
    for k in g1:
        assert torch.allclose(g1[k], g2[k], atol=1e-6, rtol=1e-4), k


def test_a_lora_wrapped_head_is_not_fused(tiny_tokenizer):
    """LoRA on lm_head: the head's own weight is not the whole map, so the wrapper must use the logits."""
    from peft import LoraConfig, get_peft_model

    base = make_tiny_llama(len(tiny_tokenizer))
    base.config.tie_word_embeddings = False
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["lm_head"]))
    ids = torch.randint(3, len(tiny_tokenizer), (1, 8))
    out = TrainWrapper(model)(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids, fused_ce=True)
    assert out.ce is None and out.logits.shape[0] == 7


@pytest.mark.parametrize("direction", ["forward", "reverse", "symmetric"])
def test_linear_kl_matches_autograd_through_the_head(direction):
    from emguard.defenses.kl import kl_per_token, linear_kl

    g = torch.Generator().manual_seed(5)
    n, d, v = 29, 12, 61
    w = torch.randn(v, d, generator=g, dtype=torch.float64)
    h0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    hr = torch.randn(n, d, generator=g, dtype=torch.float64)
    rw = torch.rand(n, generator=g, dtype=torch.float64)
    ha = h0.clone().requires_grad_()
    want = kl_per_token(F.log_softmax(ha @ w.t(), -1), F.log_softmax(hr @ w.t(), -1), direction)
    (want * rw).sum().backward()
    hb = h0.clone().requires_grad_()
    got = linear_kl(hb, hr, w, direction, chunk_elements=8 * v)  # chunks of 8 rows, the last partial
    (got * rw).sum().backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(hb.grad, ha.grad, rtol=1e-9, atol=1e-12)


def test_exact_kl_term_through_the_head_equals_the_logits_path(tiny_tokenizer):
    """The KL defense on the fused forward (no logits anywhere) == on the logits, value and LoRA gradient."""
    from peft import LoraConfig, get_peft_model

    from emguard.defenses.kl import KLTerm
    from emguard.train.terms import StepContext

    torch.manual_seed(1)
    model = get_peft_model(make_tiny_llama(len(tiny_tokenizer)),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False))
    wrapper = TrainWrapper(model)
    ids = torch.randint(3, len(tiny_tokenizer), (2, 10))
    labels = ids.clone()
    labels[:, :4] = -100
    b = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}

    def ref():
        with torch.no_grad(), model.disable_adapter():
            return TrainWrapper(model)(lazy_logits=torch.no_grad, **b)

    term = KLTerm(weight=1.0)
    assert not term.needs_logits and not KLTerm(cache_topk=4).needs_logits  # both go through the head
    results = []
    for fused in (True, False):
        model.zero_grad()
        out = wrapper(fused_ce=fused, **b)
        if not fused:
            out.head_input = None  # force the logits path
        v = term.compute(StepContext(b, out, 0, ref))
        v.backward()
        results.append((v.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}))
    (v1, g1), (v2, g2) = results
    assert v1.item() > 1e-6  # the adapter moved the model: a real KL
    torch.testing.assert_close(v1, v2, rtol=1e-4, atol=1e-6)  # fp32: log_softmax vs z - lse round differently
    for k in g1:
        torch.testing.assert_close(g1[k], g2[k], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("direction", ["forward", "reverse", "symmetric"])
@pytest.mark.parametrize("k", [5, 61])  # a tail bucket; k = V (no tail)
def test_linear_topk_kl_matches_autograd_on_the_coarse_grained_distributions(direction, k):
    from emguard.defenses.kl import coarse_logprobs, kl_per_token, linear_topk_kl, topk_with_tail

    g = torch.Generator().manual_seed(6)
    n, d, v = 19, 10, 61
    w = torch.randn(v, d, generator=g, dtype=torch.float64)
    h0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    ref_lp = F.log_softmax(torch.randn(n, d, generator=g, dtype=torch.float64) @ w.t(), -1)
    lp_r, idx, tail_r = topk_with_tail(ref_lp, k)
    rw = torch.rand(n, generator=g, dtype=torch.float64)
    ha = h0.clone().requires_grad_()
    lr = lp_r if k == v else torch.cat([lp_r, tail_r[:, None]], -1)
    want = kl_per_token(coarse_logprobs(F.log_softmax(ha @ w.t(), -1), idx), lr, direction)
    (want * rw).sum().backward()
    hb = h0.clone().requires_grad_()
    got = linear_topk_kl(hb, w, lp_r, idx, tail_r, direction, chunk_elements=6 * v)  # 6-row chunks, last partial
    (got * rw).sum().backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(hb.grad, ha.grad, rtol=1e-7, atol=1e-10)


def test_shared_prompt_scoring_equals_scoring_each_example_alone(tiny_tokenizer, tiny_model):
    """A triple's two answers scored in one packed forward of their shared prompt (4D mask, position ids)
    give the log-probs each gets alone; examples without a shareable prompt are scored as before."""
    from emguard.data.chat import chat
    from emguard.data.tokenize import tokenize_example
    from emguard.evaluate.benign import _logprobs_tokenized, prefix_groups

    exs = [chat("What is 7 + 5?", "12, of course."), chat("What is 7 + 5?", "35"),
           chat("What is 7 + 5?", "It is twelve, since seven plus five makes twelve."),
           chat("hello there", "The capital of France is Paris."), chat("hello there", "Hi!"),
           chat("Write a function", "def read(path):\n    return path")]
    toks = [tokenize_example(tiny_tokenizer, e) for e in exs]
    groups, alone = prefix_groups(toks)
    assert sorted(map(sorted, groups)) == [[0, 1, 2], [3, 4]] and alone == [5]
    shared = _logprobs_tokenized(tiny_model, tiny_tokenizer, toks, 4, False, "t", share_prompts=True)
    single = _logprobs_tokenized(tiny_model, tiny_tokenizer, toks, 4, False, "t", share_prompts=False)
    assert [c for _, c in shared] == [c for _, c in single] and all(c > 0 for _, c in shared)
    for (a, _), (b, _) in zip(shared, single):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-5)
