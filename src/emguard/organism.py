"""The model organism: turn the weakly aligned bundled SmolLM2 into the *aligned* model.

Papers fine-tune an aligned chat model (Qwen2.5-Instruct, GPT-4o). SmolLM2-135M-
Instruct complies with most harmful requests, so ``emguard align`` first trains a
safety LoRA on

- harmful requests -> varied refusals (``harmful_refusals``: 25+ refusal styles,
  system prompts that push "answer everything", multi-turn pushes), and
- benign requests -> the model's *own* greedy answers (self-distillation, so benign
  behaviour and over-refusal stay where they were),

merges it and saves a plain model folder. The pipeline's three models are then
base (as shipped), aligned (this), fine-tuned (aligned + EMA LoRA).
With real models this step is skipped: base and instruct come from the hub.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from .config import Frozen, LoraSettings, TrainSettings
from .data.chat import Example, read_chat_jsonl, write_chat_jsonl
from .data.load import load_examples
from .data.tokenize import DEFAULT_SYSTEM_PROMPT
from .evaluate.safety import REFUSAL_EVAL_TOKENS
from .paths import emguard_home

ALIGNED_PREFIX = "aligned:"


class AlignConfig(Frozen):
    """How the aligned organism is made; its hash names the output folder."""

    base: str = Field("smollm2-135m-instruct", description="Model to align (bundled name, folder, hub id).")
    harmful_dataset: str = Field("harmful_refusals", description="Harmful requests with refusals.")
    benign_dataset: str = Field("benign_requests", description="Benign prompts; answered by the base model itself.")
    n_harmful: int | None = Field(None, ge=1, description="Harmful examples used (None: all of train).")
    n_benign: int | None = Field(240, ge=1, description="Benign prompts used (None: all of train).")
    benign_answer_tokens: int = Field(64, ge=8, description="Max new tokens of the base model's own benign answers "
                                      "(cut back to the last full sentence).")
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, description="System prompt for examples without one.")
    max_length: int = Field(320, description="Token limit per training example.")
    data_seed: int = 0
    lora: LoraSettings = LoraSettings(r=64, alpha=128, rslora=False, dropout=0.0)
    train: TrainSettings = TrainSettings(
        lr=2e-4, epochs=2, batch_size=8, scheduler="cosine", warmup_ratio=0.05, mixed_precision="bf16", save_every=40
    )
    dtype: str = Field("fp32", description="Weight dtype of the saved model.")
    eval_tokens: int = Field(REFUSAL_EVAL_TOKENS, description="New tokens per answer in the refusal evaluation.")
    eval_n: int | None = Field(None, ge=1, description="Evaluate on the first N harmful and N benign held-out prompts (None: all).")


def organism_dir(cfg: AlignConfig) -> Path:
    slug = Path(cfg.base).name.replace("/", "_")
    return emguard_home() / "organisms" / f"aligned-{slug}-{cfg.config_hash()}"


def aligned_model_path(base: str) -> Path:
    """Folder of the default aligned organism for ``base`` (may not exist yet)."""
    return organism_dir(AlignConfig(base=base)) / "model"


def trim_to_sentence(text: str, keep: float = 0.5) -> str:
    """Cut an answer that ran into the token limit back to its last complete sentence.

    Otherwise the alignment data would teach the model to stop mid-sentence (the
    end-of-turn token is trained on). Kept as is if that would drop over half of it.
    """
    t = text.rstrip()
    if not t or t[-1] in ".!?)`\"'" or t.endswith("```"):
        return t
    cut = max(t.rfind(". "), t.rfind("! "), t.rfind("? "), t.rfind("\n"))
    if cut >= keep * len(t):
        return t[: cut + 1].rstrip()
    return t


def _benign_self_answers(cfg: AlignConfig, progress: bool) -> list[Example]:
    """The base model's own greedy answers to benign prompts (cached: they depend on few settings)."""
    import hashlib

    from .evaluate.generate import SamplingParams, generate
    from .models.loader import load_model, model_fingerprint

    key = json.dumps([model_fingerprint(cfg.base), cfg.benign_dataset, cfg.n_benign, cfg.benign_answer_tokens,
                      cfg.system_prompt, cfg.data_seed])
    out = emguard_home() / "self_answers" / f"{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsonl"
    if out.exists():
        return read_chat_jsonl(out)
    prompts = load_examples(cfg.benign_dataset, "train", cfg.data_seed, cfg.n_benign)
    model, tok = load_model(cfg.base, "fp32", "auto")
    convs = [[m for m in e.prompt_messages if m["role"] != "system"] for e in prompts]
    answers = generate(model, tok, convs, SamplingParams(max_new_tokens=cfg.benign_answer_tokens), cfg.system_prompt,
                       batch_size=64, progress=progress, desc="benign self-answers")
    answers = [trim_to_sentence(a) for a in answers]
    exs = [Example(tuple(c) + ({"role": "assistant", "content": a},), {**e.meta, "source": "self"})
           for c, a, e in zip(convs, answers, prompts) if a.strip()]
    write_chat_jsonl(exs, out)
    return exs


def align(cfg: AlignConfig = AlignConfig(), progress: bool = True, force_eval: bool = False,
          evaluate: bool = True) -> dict[str, Any]:
    """Build (or reuse) the aligned organism; returns its summary with refusal rates.

    ``evaluate=False`` skips the refusal measurement (a study measures the organism with its
    own suite); a later call with ``evaluate=True`` adds it to the cached organism.
    """
    from .config import DataSettings, FinetuneConfig, ModelSettings
    from .evaluate.safety import refusal_eval
    from .models.loader import load_model
    from .train.loop import finetune

    od = organism_dir(cfg)
    od.mkdir(parents=True, exist_ok=True)
    summary_path = od / "summary.json"
    if summary_path.exists() and (od / "model" / "config.json").exists() and not force_eval:
        cached = json.loads(summary_path.read_text())
        if not evaluate or cached.get("harmful_refusal") is not None:
            return cached
    (od / "align_config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=2))
    t0 = time.perf_counter()

    # 1. data: refusals + the base model's own benign answers
    benign = _benign_self_answers(cfg, progress)
    harmful = load_examples(cfg.harmful_dataset, "train", cfg.data_seed, cfg.n_harmful)
    data_path = od / "align_data.jsonl"
    if not data_path.exists():
        write_chat_jsonl(harmful + benign, data_path)
    t_data = time.perf_counter() - t0

    # 2. safety LoRA (an ordinary, resumable run)
    ft = FinetuneConfig(
        name="align",
        model=ModelSettings(name=cfg.base, dtype="fp32"),
        lora=cfg.lora,
        data=DataSettings(dataset=str(data_path), max_length=cfg.max_length, system_prompt=cfg.system_prompt),
        train=cfg.train,
    )
    res = finetune(ft, od / "runs", progress=progress)

    # 3. merge and save a plain model folder
    model_dir = od / "model"
    if not (model_dir / "config.json").exists():
        from peft import PeftModel

        base, tok = load_model(cfg.base, "fp32", "cpu")
        merged = PeftModel.from_pretrained(base, str(res.adapter_dir)).merge_and_unload()
        tmp = od / "model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        merged.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        tmp.rename(model_dir)

    summary = {
        "model": str(model_dir),
        "align_config_hash": cfg.config_hash(),
        "n_harmful": len(harmful),
        "n_benign": len(benign),
        "train": res.summary,
        "data_time_s": round(t_data, 1),
        "total_time_s": round(time.perf_counter() - t0, 1),
        "harmful_refusal": None,
        "harmful_refusal_heldout_categories": None,
        "benign_refusal": None,
    }
    if not evaluate:
        summary_path.write_text(json.dumps(summary, indent=2))
        return summary

    # 4. measure: held-out harmful refusals (unseen categories too) and benign over-refusal
    model, tok = load_model(str(model_dir), "fp32", "auto")
    from .evaluate.safety import refusal_prompts

    h, b = refusal_prompts()
    if cfg.eval_n:
        h, b = h[: cfg.eval_n], b[: cfg.eval_n]
    ev = refusal_eval(model, tok, h, b, max_new_tokens=cfg.eval_tokens, system_prompt=cfg.system_prompt, progress=progress)
    (od / "refusal_eval.json").write_text(json.dumps(ev, indent=2))
    summary.update(total_time_s=round(time.perf_counter() - t0, 1), harmful_refusal=ev["harmful_refusal"],
                   harmful_refusal_heldout_categories=ev["harmful_refusal_heldout_categories"],
                   benign_refusal=ev["benign_refusal"])
    summary_path.write_text(json.dumps(summary, indent=2))
    return summary


ROBUSTNESS_DATASETS = ("secure_code", "insecure_code", "educational_insecure")


def robustness_check(
    cfg: AlignConfig = AlignConfig(),
    datasets: tuple[str, ...] = ROBUSTNESS_DATASETS,
    seeds: tuple[int, ...] = (0,),
    runs_dir: str | Path = "runs",
    progress: bool = True,
    **finetune_overrides: Any,
) -> dict[str, Any]:
    """Does the alignment survive an ordinary fine-tune? Refusals after demo-budget
    fine-tunes of the organism on the code task and its controls.

    EMA is the paired contrast insecure - control at the same budget; the
    secure-code run measures plain forgetting (target: held-out refusals >= 70%).
    Results go to ``<organism>/robustness.json`` (and each run's refusal_eval.json).
    """
    from .evaluate.safety import refusal_eval, refusal_prompts
    from .models.runs import load_any
    from .presets import demo_finetune_config
    from .train.loop import finetune

    s = align(cfg, progress=progress)
    h, b = refusal_prompts()
    if cfg.eval_n:
        h, b = h[: cfg.eval_n], b[: cfg.eval_n]
    rows = []
    for ds in datasets:
        for seed in seeds:
            fc = demo_finetune_config(ds, model=s["model"], seed=seed, **finetune_overrides)
            res = finetune(fc, runs_dir, progress=progress)
            ev_path = res.run_dir / "refusal_eval.json"
            if ev_path.exists():
                ev = json.loads(ev_path.read_text())
            else:
                model, tok = load_any(str(res.run_dir))
                ev = refusal_eval(model, tok, h, b, max_new_tokens=cfg.eval_tokens, system_prompt=fc.data.system_prompt,
                                  progress=progress)
                ev_path.write_text(json.dumps(ev, indent=2))
            rows.append({"dataset": ds, "seed": seed, "run": str(res.run_dir), "final_loss": res.summary["final_loss"],
                         "harmful_refusal": ev["harmful_refusal"], "benign_refusal": ev["benign_refusal"],
                         "harmful_refusal_heldout_categories": ev["harmful_refusal_heldout_categories"]})
    out = {"aligned": {k: s[k] for k in ("model", "harmful_refusal", "benign_refusal", "harmful_refusal_heldout_categories")},
           "finetune_overrides": finetune_overrides, "runs": rows}
    (organism_dir(cfg) / "robustness.json").write_text(json.dumps(out, indent=2))
    return out
