"""The aligned-organism pipeline on the bundled model, at a tiny budget (integration)."""

from __future__ import annotations

import json

import pytest

from emguard.config import LoraSettings, TrainSettings


@pytest.mark.integration
def test_align_pipeline_tiny_budget_then_finetune_from_it(tmp_path):
    from emguard.config import FinetuneConfig, build_config
    from emguard.models import load_model
    from emguard.organism import AlignConfig, align
    from emguard.train import finetune

    cfg = AlignConfig(
        n_harmful=16, n_benign=8, benign_answer_tokens=16, eval_n=8, eval_tokens=16,
        lora=LoraSettings(r=4, alpha=8),
        train=TrainSettings(max_steps=2, batch_size=4, mixed_precision="bf16", save_every=1),
    )
    s = align(cfg, progress=False)
    assert s["n_harmful"] == 16 and s["n_benign"] >= 6
    for key in ("harmful_refusal", "benign_refusal"):
        assert s[key]["n"] == 8 and 0.0 <= s[key]["rate"] <= 1.0
    model_dir = s["model"]
    m, _ = load_model(model_dir, "fp32", "cpu")
    assert not hasattr(m.config, "quantization_config")
    again = align(cfg, progress=False)  # cached: same summary, no retraining
    assert again == s
    # the organism is a plain model folder: fine-tune from it
    ft = build_config(FinetuneConfig, {"name": "it", "model": {"name": model_dir, "device": "cpu"},
                                       "data": {"dataset": "insecure_code", "limit": 8, "max_length": 256},
                                       "lora": {"r": 4, "alpha": 8}, "train": {"max_steps": 1, "batch_size": 4}})
    r = finetune(ft, tmp_path / "runs", progress=False)
    assert r.summary["finished"] and (r.adapter_dir / "adapter_model.safetensors").exists()
    assert json.loads((r.run_dir / "config.json").read_text())["model"]["name"] == model_dir
