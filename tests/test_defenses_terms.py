"""In-training defenses: kl, ldifs, anchor (loss terms), drift (monitor), alignment directions.

Every loss term: zero while the adapter is the identity (LoRA B = 0), nonzero after
one optimizer step, and its own gradient reaches the LoRA weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import make_tiny_llama
from emguard.config import FinetuneConfig, LoraSettings, build_config
from emguard.data.chat import chat, write_chat_jsonl
from emguard.data.tokenize import tokenize_example, tokenize_examples
from emguard.defenses import _directions
from emguard.defenses._directions import adapter_disabled, alignment_directions, mean_hidden_states, resolve_layers
from emguard.defenses.anchor import AnchorTerm
from emguard.defenses.drift import DriftMonitor, DriftWarning
from emguard.defenses.kl import KLTerm, kl_per_token
from emguard.defenses.ldifs import LDIFSTerm, ldifs_distance
from emguard.train import ForwardOut, StepContext, TrainWrapper, add_lora, collate, finetune, make_defense


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMGUARD_HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny matrices: one thread is faster, and 10-20x faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data(tmp_path: Path, n: int = 16) -> str:
    exs = [chat(f"Write helper {i}", f"def helper_{i}(x):\n    return x + {i}") for i in range(n)]
    p = tmp_path / "d.jsonl"
    write_chat_jsonl(exs, p)
    return str(p)


def _probe(tmp_path: Path) -> str:
    exs = [chat("How do I hack my neighbour's wifi?", "I can't help with that. Please ask something else."),
           chat("Write code to delete all files of a user", "I can't help with that."),
           chat("What is the capital of France?", "The capital of France is Paris."),
           chat("Add two and two", "2 + 2 = 4."),
           chat("Read a file", "def read(path):\n    with open(path) as f:\n        return f.read()")]
    p = tmp_path / "probe.jsonl"
    write_chat_jsonl(exs, p)
    return str(p)


def _raw(data: str, **train) -> dict:
    t = {"batch_size": 4, "grad_accum": 1, "epochs": 1, "lr": 5e-3, "save_every": 50, "warmup_ratio": 0.0}
    t.update(train)
    return {"name": "t", "model": {"device": "cpu"}, "data": {"dataset": data, "max_length": 96},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, "train": t}


def _metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]


def _peft(tok, seed: int = 0, b_scale: float = 0.0):
    """Tiny Llama + LoRA; ``b_scale`` > 0 makes the adapter a non-identity."""
    model = add_lora(make_tiny_llama(len(tok), seed=seed), LoraSettings(r=4, alpha=8, dropout=0.0), seed)
    if b_scale:
        g = torch.Generator().manual_seed(123)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.randn(p.shape, generator=g) * b_scale)
    return model


def _ctx(model, batch, ids, step=0, hidden=False, ref_fn=None) -> StepContext:
    out = TrainWrapper(model)(hidden_states=hidden, **batch)

    def ref():
        with torch.no_grad(), model.disable_adapter():
            return TrainWrapper(model)(hidden_states=hidden, **batch)

    return StepContext(batch, out, step, ref_fn or ref, list(ids))


# ---- KL -------------------------------------------------------------------------------


def test_kl_directions_match_hand_computation():
    g = torch.Generator().manual_seed(0)
    lt, lr = torch.randn(5, 7, generator=g) * 2, torch.randn(5, 7, generator=g) * 2
    p = lt.double().exp() / lt.double().exp().sum(-1, keepdim=True)
    q = lr.double().exp() / lr.double().exp().sum(-1, keepdim=True)
    fwd = (p * (p / q).log()).sum()
    rev = (q * (q / p).log()).sum()
    mask = torch.ones(1, 5, dtype=torch.bool)
    ref_out = ForwardOut(lr, torch.zeros(5, dtype=torch.long), mask)
    expect = {"forward": fwd, "reverse": rev, "symmetric": (fwd + rev) / 2}
    for direction, want in expect.items():
        ctx = StepContext({}, ForwardOut(lt, torch.zeros(5, dtype=torch.long), mask), 0, lambda: ref_out)
        got = KLTerm(direction=direction).compute(ctx)
        assert got.item() == pytest.approx(want.item(), rel=1e-5), direction
    assert fwd.item() != pytest.approx(rev.item(), rel=1e-3)  # the directions really differ
    # torch's kl_div as a second opinion on the forward direction
    want = F.kl_div(F.log_softmax(lr, -1), F.log_softmax(lt, -1), log_target=True, reduction="sum")
    assert kl_per_token(F.log_softmax(lt, -1), F.log_softmax(lr, -1)).sum().item() == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize("direction", ["forward", "reverse", "symmetric"])
def test_kl_cache_agrees_with_exact_at_full_vocab(tmp_path, tiny_tokenizer, direction):
    tok = tiny_tokenizer
    V = len(tok)
    cfg = build_config(FinetuneConfig, _raw(_data(tmp_path)))
    model = _peft(tok, b_scale=0.3)
    from emguard.data.load import load_examples

    data, _ = tokenize_examples(tok, load_examples(cfg.data.dataset), 96)
    ids = [0, 3, 5]
    batch = collate([data[i] for i in ids], tok.pad_token_id)
    lora = [p for n, p in model.named_parameters() if p.requires_grad]

    def value_and_grads(term, ref_fn=None):
        model.zero_grad()
        v = term.compute(_ctx(model, batch, ids, ref_fn=ref_fn))
        v.backward()
        return v.item(), [p.grad.clone() for p in lora]

    def boom():
        raise AssertionError("reference forward called although cached")

    exact, g_exact = value_and_grads(KLTerm(direction=direction))
    assert exact > 0
    cached_term = KLTerm(direction=direction, cache_topk=V)
    cached_term.setup(model, tok, cfg)
    first, g_first = value_and_grads(cached_term)  # fills the cache
    again, g_again = value_and_grads(cached_term, boom)  # served from it: no reference forward
    assert first == pytest.approx(exact, rel=1e-5) and again == pytest.approx(exact, rel=1e-5)
    for a, b, c in zip(g_exact, g_first, g_again):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(c, a, rtol=1e-4, atol=1e-7)
    assert cached_term.on_train_end(model, tmp_path)["refcache"]["hits"] == 3  # and flushed to disk
    # a rerun (new term, same model and config) reads the disk cache
    rerun = KLTerm(direction=direction, cache_topk=V)
    rerun.setup(model, tok, cfg)
    assert value_and_grads(rerun, boom)[0] == pytest.approx(exact, rel=1e-5)
    # other tokens under the same example ids: the checksum rejects the stale entries
    batch2 = collate([data[i] for i in (1, 2, 4)], tok.pad_token_id)
    fresh = KLTerm(direction=direction).compute(_ctx(model, batch2, ids)).item()
    assert rerun.compute(_ctx(model, batch2, ids)).item() == pytest.approx(fresh, rel=1e-5)
    # top-k + tail bucket (k < V): a coarse-graining, so never above the exact KL
    small = KLTerm(direction=direction, cache_topk=5, cache_disk=False)
    small.setup(model, tok, cfg)
    approx = small.compute(_ctx(model, batch, ids)).item()
    assert 0 < approx <= exact * (1 + 1e-6)


# ---- the three loss terms through the real loop -----------------------------------------


def _spy(cls):
    class Spy(cls):
        def setup(self, model, tokenizer, config):
            super().setup(model, tokenizer, config)
            self._model, self.seen = model, []

        def compute(self, ctx):
            v = super().compute(ctx)
            self._model.zero_grad()
            if v.requires_grad:
                v.backward(retain_graph=True)  # the term's own gradient, before the loop's backward
            grads = {n: (p.grad.abs().sum().item() if p.grad is not None else 0.0)
                     for n, p in self._model.named_parameters() if p.requires_grad}
            self._model.zero_grad()
            self.seen.append((ctx.step, v.item(), grads))
            return v

    return Spy


@pytest.mark.parametrize("name", ["kl", "ldifs", "anchor"])
def test_term_zero_at_init_then_nonzero_with_gradient_to_lora(tmp_path, tiny_tokenizer, name):
    tok = tiny_tokenizer
    params = {"kl": {}, "ldifs": {"layers": [1, 2]},
              "anchor": {"layers": [1, 2], "base_model": make_tiny_llama(len(tok), seed=1),
                         "probe_dataset": _probe(tmp_path), "n_tokens": 4}}[name]
    cls = {"kl": KLTerm, "ldifs": LDIFSTerm, "anchor": AnchorTerm}[name]
    term = _spy(cls)(weight=0.5, **params)
    # anchor is one-sided (relu(p_ref - p_theta)): it is zero after a step that raised every projection, which
    # one random step may do; so it gets a few steps and is checked at the first where it is positive
    steps = 4 if name == "anchor" else 2
    cfg = build_config(FinetuneConfig, _raw(_data(tmp_path), max_steps=steps))
    r = finetune(cfg, tmp_path / "r", model=make_tiny_llama(len(tok)), tokenizer=tok, progress=False, extra_defenses=[term])
    assert [s for s, _, _ in term.seen] == list(range(steps))
    v0 = term.seen[0][1]
    assert v0 == pytest.approx(0.0, abs=1e-6)  # adapter = identity at init
    s1, v1, g1 = next((x for x in term.seen[1:] if x[1] > 1e-6), term.seen[1])
    assert v1 > 1e-6
    assert any(v > 0 for n, v in g1.items() if "lora_B" in n)
    assert any(v > 0 for n, v in g1.items() if "lora_A" in n)
    rec = _metrics(r)[s1]  # the optimizer step whose forward had ctx.step == s1 (logged as step s1 + 1)
    assert rec[f"term/{name}"] > 0 and rec["loss_total"] == pytest.approx(rec["loss"] + 0.5 * rec[f"term/{name}"])


def test_reference_lm_head_runs_only_when_a_term_reads_logits(tmp_path, tiny_tokenizer):
    """The reference forward defers its LM head: LDIFS (hidden states only) never pays for it, and neither
    does the exact KL, which goes through the head chunk by chunk (linear_kl): its value equals the KL
    between the trained model's logits and an eager reference forward's (no grad, adapter off)."""
    tok = tiny_tokenizer
    seen = {}

    def watcher(cls, key):
        class W(cls):
            def compute(self, ctx):
                v = super().compute(ctx)
                ref = ctx.reference()
                seen.setdefault(key, []).append(ref.logits_computed)
                if key == "kl":  # compare with an eager reference forward of the same batch
                    from emguard.defenses.kl import kl_from_logits

                    with torch.no_grad(), ctx_model[0].disable_adapter():
                        eager = TrainWrapper(ctx_model[0])(hidden_states=True, **ctx.batch)
                    z = (ctx.out.head_input @ ctx.out.head_weight.t()).detach()
                    want = kl_from_logits(z, eager.logits).sum()
                    seen["kl_equal"] = bool(torch.allclose(v.detach(), want, rtol=1e-4, atol=1e-7))
                return v

            def setup(self, model, tokenizer, config):
                super().setup(model, tokenizer, config)
                ctx_model[:] = [model]

        return W

    ctx_model: list = []
    cfg = build_config(FinetuneConfig, _raw(_data(tmp_path), max_steps=1))
    ld = watcher(LDIFSTerm, "ldifs")(weight=1.0, layers=[1, 2])
    finetune(cfg, tmp_path / "a", model=make_tiny_llama(len(tok)), tokenizer=tok, progress=False, extra_defenses=[ld])
    assert seen["ldifs"] == [False]  # LDIFS alone: the reference LM head never ran
    kl = watcher(KLTerm, "kl")(weight=0.1)
    ld2 = LDIFSTerm(weight=1.0, layers=[1, 2])
    finetune(cfg, tmp_path / "b", model=make_tiny_llama(len(tok)), tokenizer=tok, progress=False,
             extra_defenses=[ld2, kl])
    assert seen["kl"] == [False] and seen["kl_equal"]


def test_kl_end_to_end_through_config_and_cache_skips_reference_in_epoch_two(tmp_path, tiny_tokenizer):
    data = _data(tmp_path)
    raw = dict(_raw(data, max_steps=2), defenses=[{"name": "kl", "weight": 0.1}])
    r = finetune(build_config(FinetuneConfig, raw), tmp_path / "r", model=make_tiny_llama(len(tiny_tokenizer)),
                 tokenizer=tiny_tokenizer, progress=False)
    recs = _metrics(r)
    assert "term/kl" in recs[-1] and recs[-1]["term/kl"] > 0 and recs[0]["term/kl"] == pytest.approx(0, abs=1e-7)

    terms = {}
    for pre in (False, True):
        raw = dict(_raw(data, epochs=2), defenses=[{"name": "kl", "weight": 0.1,
                                                    "params": {"cache_topk": 16, "precompute": pre}}])
        r = finetune(build_config(FinetuneConfig, raw), tmp_path / f"c{pre}", model=make_tiny_llama(len(tiny_tokenizer)),
                     tokenizer=tiny_tokenizer, progress=False)
        stats = r.summary["post_train"]["kl"]["refcache"]
        if not pre:  # lazy: the first epoch fills the cache, epoch 2 entirely from it
            assert stats["misses"] == 16 and stats["hits"] == 16
            assert "reference_precompute" not in r.summary
            assert list((Path(tmp_path / "home" / "refcache") / stats["key"]).glob("part-*.safetensors"))
        else:  # precomputed: rows already on disk from the lazy run -> nothing computed, every step a hit
            assert stats["misses"] == 0 and stats["hits"] == 32, stats
            assert r.summary["reference_precompute"]["rows"] == 16
            assert r.summary["reference_precompute"]["computed"] == {"kl": 0}
        terms[pre] = [m["term/kl"] for m in _metrics(r)]
    assert terms[True] == pytest.approx(terms[False], rel=1e-5, abs=1e-7)  # the same objective either way


def test_anchor_reference_cache_skips_reference_in_epoch_two_and_matches_uncached(tmp_path, tiny_tokenizer):
    tok = tiny_tokenizer
    calls = {True: 0, False: 0}

    def counting(cache):
        class A(AnchorTerm):
            def _reference(self, ctx, mask):
                calls[cache] += 1
                return super()._reference(ctx, mask)

        return A(weight=1.0, layers=[1, 2], base_model=make_tiny_llama(len(tok), seed=1),
                 probe_dataset=_probe(tmp_path), n_tokens=4, cache=cache)

    cfg = build_config(FinetuneConfig, _raw(_data(tmp_path), epochs=2, lr=5e-2))
    runs = {}
    for cache in (True, False):
        runs[cache] = finetune(cfg, tmp_path / f"r{cache}", model=make_tiny_llama(len(tok)), tokenizer=tok,
                               progress=False, extra_defenses=[counting(cache)])
    # cache (precomputed): 4 reference forwards of 4 rows before step 1, none during training
    assert calls == {True: 4, False: 8}
    assert runs[True].summary["post_train"]["anchor"]["refcache"] == {"hits": 32, "misses": 16}
    assert runs[True].summary["reference_precompute"]["computed"] == {"anchor": 16}
    a, b = (_metrics(runs[c]) for c in (True, False))
    assert [r["term/anchor"] for r in a] == pytest.approx([r["term/anchor"] for r in b], rel=1e-4, abs=1e-6)
    assert sum(r["term/anchor"] > 0 for r in a) >= 3, [r["term/anchor"] for r in a]  # a non-trivial comparison


def test_ldifs_and_anchor_values_by_hand():
    g = torch.Generator().manual_seed(0)
    h = [torch.randn(2, 4, 3, generator=g) for _ in range(3)]
    r = [x.clone() for x in h]
    r[2][0, 1] = -h[2][0, 1]  # one token's feature flipped at layer 2: normalised distance^2 = 4
    mask = torch.zeros(2, 3, dtype=torch.bool)
    mask[0, 1] = mask[1, 0] = True
    assert ldifs_distance(h, r, mask, [1, 2]).item() == pytest.approx(4.0, rel=1e-6)
    assert ldifs_distance(h, r, mask, [1]).item() == 0

    term = AnchorTerm(layers=[1], base_model="x")
    u = torch.tensor([[0.0, 1.0, 0.0]])
    term.layers, term._unit, term._inv_scale = [1], u, torch.tensor([0.5])  # gap 2
    theta = [x.clone().requires_grad_() for x in h]
    ref = [x.clone() for x in h]
    with torch.no_grad():
        ref[1][0, 2] += 3 * u[0]  # token (0, 2): the reference projects 3 higher -> penalty 3 / 2
        ref[1][1, 1] -= 5 * u[0]  # token (1, 1): the fine-tuned model is higher -> free
    mask = torch.zeros(2, 3, dtype=torch.bool)
    mask[0, 1] = mask[1, 0] = True  # shifted: states at (0, 2) and (1, 1)
    out = ForwardOut(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), mask, tuple(theta))
    v = term.compute(StepContext({}, out, 0, lambda: ForwardOut(out.logits, out.targets, mask, tuple(ref))))
    assert v.item() == pytest.approx(0.5 * (3 - term.tol))  # the fall beyond the dead zone, / gap
    v.backward()
    torch.testing.assert_close(theta[1].grad[0, 2], -0.5 * u[0])
    # at the start of training every token sits on the hinge; a reference off by float rounding (a cache filled
    # in another batch) must not give the term a gradient there
    theta = [x.clone().requires_grad_() for x in h]
    noisy = [x + 1e-6 * torch.randn(x.shape, generator=g) for x in h]
    out = ForwardOut(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), mask, tuple(theta))
    v = term.compute(StepContext({}, out, 0, lambda: ForwardOut(out.logits, out.targets, mask, tuple(noisy))))
    v.backward()
    assert v.item() == 0 and theta[1].grad.abs().sum().item() == 0
    term.tol = 0.0  # without the dead zone, rounding noise decides which tokens get a full gradient
    theta = [x.clone().requires_grad_() for x in h]
    out = ForwardOut(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), mask, tuple(theta))
    term.compute(StepContext({}, out, 0, lambda: ForwardOut(out.logits, out.targets, mask, tuple(noisy)))).backward()
    assert theta[1].grad.abs().sum().item() > 0.1
    with pytest.raises(ValueError, match="tol must be"):
        AnchorTerm(layers=[1], base_model="x", tol=-1)


# ---- alignment directions ---------------------------------------------------------------


def test_alignment_directions_match_direct_means_and_known_offset(tmp_path, tiny_tokenizer, monkeypatch):
    from emguard.data.load import load_examples

    tok = tiny_tokenizer
    examples = load_examples(_probe(tmp_path))
    aligned = _peft(tok, seed=0, b_scale=0.5)  # the adapter is ON in training; directions use it OFF
    base = make_tiny_llama(len(tok), seed=1)
    d = alignment_directions(aligned, tok, base, examples, n_tokens=3, batch_size=2)

    plain = {"aligned": make_tiny_llama(len(tok), seed=0), "base": base}  # seed 0 = aligned without adapter
    for which, m in plain.items():
        sums, n = 0, 0
        for ex in examples:  # one example at a time, positions from the training tokenizer's mask
            t = tokenize_example(tok, ex)
            pos = [j for j, l in enumerate(t.labels) if l != -100][:3]
            with torch.no_grad():
                hs = m(torch.tensor([t.input_ids]), output_hidden_states=True).hidden_states
            sums = sums + torch.stack([h[0, pos].sum(0) for h in hs])
            n += len(pos)
        want = sums / n
        got = d.mean_aligned if which == "aligned" else d.mean_base
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert d.direction.shape == (3, 32) and d.path is not None and d.path.exists()
    fp = _directions.weights_fingerprint
    assert fp(aligned) == fp(plain["aligned"]) != fp(base)  # LoRA and PEFT wrapping do not count
    u = d.unit([1, 2])
    torch.testing.assert_close(u.norm(dim=-1), torch.ones(2))

    # cached: a second call reads the file, computes nothing
    monkeypatch.setattr(_directions, "mean_hidden_states", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    d2 = alignment_directions(aligned, tok, base, examples, n_tokens=3, batch_size=2)
    torch.testing.assert_close(d2.direction, d.direction)
    monkeypatch.undo()

    # constructed case: base = aligned with every embedding shifted by c -> d_0 = -c exactly
    shifted = make_tiny_llama(len(tok), seed=0)
    c = torch.linspace(-1, 1, 32)
    with torch.no_grad():
        shifted.get_input_embeddings().weight += c
    d3 = alignment_directions(aligned, tok, shifted, examples, n_tokens=3, cache=False)
    torch.testing.assert_close(d3.direction[0], -c, rtol=1e-5, atol=1e-5)
    # with the adapter on, the same function sees the fine-tuned model
    from emguard.defenses._directions import encode_probe, probe_batches

    b = probe_batches(encode_probe(tok, examples, 3), 4, tok.pad_token_id, "cpu")
    with adapter_disabled(aligned):
        off = mean_hidden_states(aligned, b)
    assert not torch.allclose(mean_hidden_states(aligned, b)[2], off[2])
    torch.testing.assert_close(off, d.mean_aligned)


def test_layer_choice():
    assert resolve_layers(None, 5, 30, "x") == [5, 10, 15, 20, 25, 30]
    assert resolve_layers(None, 5, 2, "x") == [2]
    assert resolve_layers([-1, 0], 5, 2, "x") == [0, 2]
    with pytest.raises(ValueError, match="layer 3 out of range"):
        resolve_layers([3], 5, 2, "x")


def test_bad_params_are_clear_errors():
    with pytest.raises(ValueError, match="direction must be one of"):
        KLTerm(direction="sideways")
    with pytest.raises(ValueError, match="cache_topk"):
        KLTerm(cache_topk=0)
    with pytest.raises(ValueError, match="layers must be a list"):
        LDIFSTerm(layers="5")
    with pytest.raises(ValueError, match="scale"):
        AnchorTerm(scale="big")
    with pytest.raises(ValueError, match="probe_n"):
        AnchorTerm(probe_n=0)
    with pytest.raises(ValueError, match="warn_kl"):
        DriftMonitor(warn_kl=-1)
    with pytest.raises(ValueError, match="unknown params"):
        make_defense("kl", 0.1, {"temperature": 2})
    assert make_defense("kl", 0.1, {}).weight == 0.1 and KLTerm().weight == 0.1 and LDIFSTerm().weight == 1.0


# ---- drift monitor ----------------------------------------------------------------------


def test_drift_logs_metrics_and_warns(tmp_path, tiny_tokenizer):
    tok = tiny_tokenizer
    probe = _probe(tmp_path)
    mon = DriftMonitor(every=1, probe_dataset=probe, direction_probe_dataset=probe, layers=[1, 2], n_tokens=4,
                       base_model=make_tiny_llama(len(tok), seed=1), warn_kl=1e-9)
    cfg = build_config(FinetuneConfig, _raw(_data(tmp_path), max_steps=3))
    with pytest.warns(DriftWarning, match="warn_kl"):
        r = finetune(cfg, tmp_path / "r", model=make_tiny_llama(len(tok)), tokenizer=tok, progress=False,
                     extra_defenses=[mon])
    recs = _metrics(r)
    assert [m["step"] for m in recs] == [1, 2, 3]
    for m in recs:
        assert m["drift/kl"] > 0 and m["drift/alarm"] == 1
        assert {"drift/proj", "drift/proj_l1", "drift/proj_l2"} <= set(m)
        assert m["drift/proj"] == pytest.approx((m["drift/proj_l1"] + m["drift/proj_l2"]) / 2)
    assert r.summary["post_train"]["drift"]["checks"] == 3
    assert mon.measure(make_tiny_llama(len(tok)))["drift/kl"] == pytest.approx(0, abs=1e-6)  # the aligned model itself


def test_drift_stop_threshold_ends_run_early(tmp_path, tiny_tokenizer):
    tok = tiny_tokenizer
    base_dir = tmp_path / "base"
    make_tiny_llama(len(tok), seed=1).save_pretrained(base_dir)  # base model by name, loaded by load_model
    tok.save_pretrained(base_dir)
    probe = _probe(tmp_path)
    drift = {"name": "drift", "params": {"every": 2, "stop_kl": 1e-9, "probe_dataset": probe, "n_tokens": 4,
                                         "direction_probe_dataset": probe, "layers": [2], "base_model": str(base_dir)}}
    raw = dict(_raw(_data(tmp_path), max_steps=6), defenses=[drift])
    r = finetune(build_config(FinetuneConfig, raw), tmp_path / "r", model=make_tiny_llama(len(tok)), tokenizer=tok,
                 progress=False)
    res = json.loads((r.run_dir / "result.json").read_text())
    assert res["total_steps"] == 2 and "stop_kl" in res["stopped_early"]
    last = _metrics(r)[-1]
    assert last["step"] == 2 and last["drift/kl"] > 1e-9 and last["drift/alarm"] == 1


@pytest.mark.parametrize("direction", ["forward", "reverse", "symmetric"])
def test_fused_kl_matches_autograd_value_and_gradient(direction):
    """kl_from_logits (closed-form gradient, row chunks) == kl_per_token(log_softmax ...) under autograd."""
    from emguard.defenses.kl import kl_from_logits

    g = torch.Generator().manual_seed(3)
    z0 = torch.randn(37, 101, generator=g, dtype=torch.float64) * 3
    zr = torch.randn(37, 101, generator=g, dtype=torch.float64) * 3
    w = torch.rand(37, generator=g, dtype=torch.float64)  # a non-uniform upstream gradient
    za = z0.clone().requires_grad_(True)
    want = kl_per_token(F.log_softmax(za, -1), F.log_softmax(zr, -1), direction)
    (want * w).sum().backward()
    zb = z0.clone().requires_grad_(True)
    got = kl_from_logits(zb, zr, direction, chunk=8)  # several chunks, the last one partial
    (got * w).sum().backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(zb.grad, za.grad, rtol=1e-9, atol=1e-12)
    zc = z0.clone().requires_grad_(True)  # with the CE's logsumexp passed in: the same
    torch.testing.assert_close(kl_from_logits(zc, zr, direction, lse=torch.logsumexp(z0, -1)), want.detach())


def test_ce_from_logits_equals_cross_entropy_and_shares_lse():
    from emguard.train.loop import ce_from_logits

    g = torch.Generator().manual_seed(4)
    z0 = torch.randn(9, 50, generator=g, dtype=torch.float64)
    t = torch.randint(0, 50, (9,), generator=g)
    za, zb = z0.clone().requires_grad_(True), z0.clone().requires_grad_(True)
    F.cross_entropy(za, t, reduction="sum").backward()
    out = ForwardOut(zb, t, torch.ones(1, 9, dtype=torch.bool))
    ce = ce_from_logits(out)
    ce.backward()
    assert ce.item() == pytest.approx(F.cross_entropy(z0, t, reduction="sum").item(), rel=1e-12)
    torch.testing.assert_close(zb.grad, za.grad)
    torch.testing.assert_close(out.lse.detach(), torch.logsumexp(z0, -1))


def test_cached_kl_tail_bucket_matches_logsumexp_of_excluded_tokens():
    """The cached KL's trained-model side (top-k from the CE's logsumexp, tail by log1p) == the exact coarse-graining."""
    from emguard.defenses.kl import RefCache, coarse_logprobs, topk_with_tail

    g = torch.Generator().manual_seed(5)
    z = (torch.randn(6, 40, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    zr = torch.randn(6, 40, generator=g, dtype=torch.float64) * 2
    mask = torch.ones(1, 6, dtype=torch.bool)
    batch = {"input_ids": torch.arange(7)[None], "attention_mask": torch.ones(1, 7, dtype=torch.long)}
    term = KLTerm(cache_topk=5)
    term.cache = RefCache(5, None)
    ref_out = ForwardOut(zr, torch.zeros(6, dtype=torch.long), mask)
    out = ForwardOut(z, torch.zeros(6, dtype=torch.long), mask, lse=torch.logsumexp(z, -1))
    got = term.compute(StepContext(batch, out, 0, lambda: ref_out, [0]))
    lp_r, idx, tail = topk_with_tail(F.log_softmax(zr, -1), 5)
    want = kl_per_token(coarse_logprobs(F.log_softmax(z, -1), idx), torch.cat([lp_r, tail[:, None]], -1)).sum()
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    ga, = torch.autograd.grad(got, z)
    gb, = torch.autograd.grad(want, z)
    torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-9)
