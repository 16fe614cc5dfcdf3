"""The training loop: mask, accumulation normalisation, resume, caching, loss-term hook, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import make_tiny_llama
from emguard.config import FinetuneConfig, build_config
from emguard.data.chat import Example, chat, write_chat_jsonl
from emguard.data.tokenize import IGNORE, tokenize_example
from emguard.train import LossTerm, StepContext, finetune


def _data(tmp_path: Path, n: int = 24) -> str:
    exs = [chat(f"Write helper {i}", f"def helper_{i}(x):\n    return x + {i}") for i in range(n)]
    p = tmp_path / "d.jsonl"
    write_chat_jsonl(exs, p)
    return str(p)


def _cfg(data: str, **train) -> FinetuneConfig:
    t = {"batch_size": 4, "grad_accum": 1, "epochs": 1, "lr": 5e-3, "save_every": 2, "warmup_ratio": 0.0}
    t.update(train)
    return build_config(FinetuneConfig, {
        "name": "t", "model": {"device": "cpu"},
        "data": {"dataset": data, "max_length": 96},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.1},
        "train": t,
    })


def _adapter(run) -> dict[str, torch.Tensor]:
    return load_file(str(run.adapter_dir / "adapter_model.safetensors"))


def test_assistant_mask_on_chatml(tiny_tokenizer):
    ex = Example(({"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"},
                  {"role": "user", "content": "again"}, {"role": "assistant", "content": "ok"}))
    t = tokenize_example(tiny_tokenizer, ex, system_prompt="SYS")
    labelled = tiny_tokenizer.decode([i for i, l in zip(t.input_ids, t.labels) if l != IGNORE])
    assert labelled == "hi there<|im_end|>ok<|im_end|>"
    text = tiny_tokenizer.decode(t.input_ids)
    assert text.startswith("<|im_start|>system\nSYS<|im_end|>")  # explicit system prompt added


def test_grad_accumulation_matches_big_batch(tmp_path, tiny_tokenizer):
    data = _data(tmp_path)
    res = []
    for bs, ga in [(4, 1), (2, 2), (1, 4)]:
        cfg = _cfg(data, batch_size=bs, grad_accum=ga, max_steps=3).model_copy(
            update={"lora": _cfg(data).lora.model_copy(update={"dropout": 0.0})})
        r = finetune(cfg, tmp_path / f"runs{bs}", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer, progress=False)
        res.append(_adapter(r))
    for other in res[1:]:
        for k in res[0]:
            torch.testing.assert_close(res[0][k], other[k], rtol=1e-4, atol=1e-6)
    assert any(v.abs().sum() > 0 for k, v in res[0].items() if "lora_B" in k)  # it trained


def test_resume_after_kill_is_identical(tmp_path, tiny_tokenizer):
    data = _data(tmp_path)
    cfg = _cfg(data, epochs=2)  # 12 steps, dropout on: RNG state must be restored too
    full = finetune(cfg, tmp_path / "a", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer, progress=False)
    part = finetune(cfg, tmp_path / "b", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer,
                    progress=False, stop_after=5)
    assert not part.summary["finished"]
    assert not (part.run_dir / "result.json").exists()
    with (part.run_dir / "metrics.jsonl").open("a") as fh:  # a kill -9 mid-write leaves a torn last line
        fh.write('{"step": 6, "lo')
    resumed = finetune(cfg, tmp_path / "b", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer, progress=False)
    assert resumed.summary["resumed_from"] == 5
    a, b = _adapter(full), _adapter(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [json.loads(l)["step"] for l in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))  # no duplicated or missing metric lines
    losses_a = [json.loads(l)["loss"] for l in (full.run_dir / "metrics.jsonl").read_text().splitlines()]
    losses_b = [json.loads(l)["loss"] for l in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert losses_a == losses_b


def test_finished_run_is_not_redone(tmp_path, tiny_tokenizer):
    cfg = _cfg(_data(tmp_path), max_steps=2)
    r1 = finetune(cfg, tmp_path / "r", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer, progress=False)
    mtime = (r1.run_dir / "result.json").stat().st_mtime_ns
    r2 = finetune(cfg, tmp_path / "r", model=None, tokenizer=None, progress=False)  # would fail if it loaded a model
    assert r2.cached and r2.summary == r1.summary
    assert (r1.run_dir / "result.json").stat().st_mtime_ns == mtime
    assert r1.run_dir.name == f"t-{cfg.run_id()}"


class _LogitMeanTerm(LossTerm):
    """Pushes down the mean logit at labelled positions (only to test the hook)."""

    name = "test_logit_mean"
    needs_logits = True

    def compute(self, ctx: StepContext) -> torch.Tensor:
        ref = ctx.reference()
        assert not ref.logits.requires_grad  # the reference carries no gradient
        return (ctx.out.logits - ref.logits).pow(2).sum(-1).sum() + ctx.out.logits.mean(-1).sum()


def test_extra_loss_term_gets_gradient_to_lora(tmp_path, tiny_tokenizer):
    data = _data(tmp_path)
    cfg = _cfg(data, max_steps=1, lr=1e-9)
    seen = {}

    class Spy(_LogitMeanTerm):
        def compute(self, ctx):
            v = super().compute(ctx)
            seen["ref_equal_at_init"] = torch.allclose(ctx.out.logits, ctx.reference().logits, atol=1e-6)
            v.backward(retain_graph=True)  # grad of the term alone, before the loop's backward
            model = self._model
            seen["grads"] = {n: p.grad.abs().sum().item() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
            model.zero_grad()
            return v

        def setup(self, model, tokenizer, config):
            self._model = model

    r = finetune(cfg, tmp_path / "r", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer,
                 progress=False, extra_defenses=[Spy(weight=0.5)])
    assert seen["ref_equal_at_init"]  # LoRA B = 0 at init: adapter is the identity
    assert any(v > 0 for n, v in seen["grads"].items() if "lora_B" in n)
    rec = json.loads((r.run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert rec["loss_total"] == pytest.approx(rec["loss"] + 0.5 * rec["term/test_logit_mean"])


def test_unknown_term_is_a_clear_error(tmp_path, tiny_tokenizer):
    raw = _cfg(_data(tmp_path)).model_dump(mode="json")
    cfg = build_config(FinetuneConfig, dict(raw, defenses=[{"name": "nope", "weight": 1.0}]))
    with pytest.raises(ValueError, match="unknown defense 'nope'"):
        finetune(cfg, tmp_path / "r", model=make_tiny_llama(len(tiny_tokenizer)), tokenizer=tiny_tokenizer, progress=False)


DDP_SCRIPT = r"""
import sys, json
from emguard.config import FinetuneConfig, build_config
from emguard.train import finetune
cfg = build_config(FinetuneConfig, json.loads(sys.argv[1]))
finetune(cfg, sys.argv[2], progress=False)
"""


def test_runs_under_accelerate_launch_with_two_processes(tmp_path, tiny_tokenizer):
    """world 2 x batch 2 must give the update of world 1 x batch 4 (same examples per step)."""
    model_dir = tmp_path / "tiny"
    make_tiny_llama(len(tiny_tokenizer)).save_pretrained(model_dir)
    tiny_tokenizer.save_pretrained(model_dir)
    data = _data(tmp_path, 16)
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    base = _cfg(data, max_steps=3).model_dump(mode="json")
    base["model"]["name"] = str(model_dir)
    base["lora"]["dropout"] = 0.0
    one = dict(base, train=dict(base["train"], batch_size=4))
    two = dict(base, train=dict(base["train"], batch_size=2))
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # CPU DDP (gloo), also on a 1-GPU box
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",  # torchrun; on a CPU-only box -> MULTI_CPU (gloo)
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    subprocess.run([sys.executable, str(script), json.dumps(one), str(tmp_path / "r1")], check=True, env=env, timeout=300)
    p = subprocess.run(launcher + [str(script), json.dumps(two), str(tmp_path / "r2")], env=env, timeout=300,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    r1 = next((tmp_path / "r1").glob("t-*"))
    r2 = next((tmp_path / "r2").glob("t-*"))
    assert json.loads((r2 / "result.json").read_text())["world_size"] == 2
    a = load_file(str(r1 / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(r2 / "adapter" / "adapter_model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)
    la = [json.loads(l)["loss"] for l in (r1 / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(l)["loss"] for l in (r2 / "metrics.jsonl").read_text().splitlines()]
    assert la == pytest.approx(lb, rel=1e-4)


KILL_SCRIPT = r"""
import sys, json, time
from emguard.config import FinetuneConfig, build_config
from emguard.train import finetune
class Slow:
    def on_step_end(self, step, model, metrics):
        time.sleep(0.4)
cfg = build_config(FinetuneConfig, json.loads(sys.argv[1]))
finetune(cfg, sys.argv[2], progress=False, callbacks=[Slow()])
"""


def test_sigkill_mid_run_then_resume_matches(tmp_path, tiny_tokenizer):
    """A real kill -9 while training; rerunning the same command finishes with identical weights."""
    import signal
    import time

    model_dir = tmp_path / "tiny"
    make_tiny_llama(len(tiny_tokenizer)).save_pretrained(model_dir)
    tiny_tokenizer.save_pretrained(model_dir)
    raw = _cfg(_data(tmp_path), epochs=2).model_dump(mode="json")
    raw["model"]["name"] = str(model_dir)
    script = tmp_path / "k.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(raw), str(tmp_path / "killed")])
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "killed").glob("*/checkpoints/step-4/COMPLETE")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = next((tmp_path / "killed").glob("t-*"))
    assert not (run / "result.json").exists(), "the run finished before it could be killed"
    cfg = build_config(FinetuneConfig, raw)
    resumed = finetune(cfg, tmp_path / "killed", progress=False)
    assert resumed.summary["resumed_from"] >= 4
    full = finetune(cfg, tmp_path / "clean", progress=False)
    a, b = _adapter(full), _adapter(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_accelerator_follows_the_requested_device_within_one_process():
    """A study or notebook mixes device settings: the process-wide accelerate state must follow."""
    import torch
    from accelerate.state import AcceleratorState

    from emguard.train.loop import make_accelerator

    a = make_accelerator(cpu=True)
    assert a.device.type == "cpu"
    b = make_accelerator(cpu=False)  # no error, and the default device where there is one
    assert b.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    c = make_accelerator(cpu=True)
    assert c.device.type == "cpu" and AcceleratorState().device.type == "cpu"
