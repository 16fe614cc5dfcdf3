"""Load whatever a user points at: a model name/folder or a fine-tune run folder."""

from __future__ import annotations

import json
from pathlib import Path

from .loader import load_model


def is_run_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "config.json").exists() and (p / "adapter" / "adapter_config.json").exists()


def run_base_model(run_dir: str | Path) -> str:
    cfg = json.loads((Path(run_dir) / "config.json").read_text())
    return cfg["model"]["name"]


def load_any(name_or_run: str, dtype: str = "fp32", device: str = "auto", merge: bool = True):
    """``(model, tokenizer)`` for a model source or a run folder (base + its adapter).

    With ``merge`` the adapter is folded into the weights (faster generation); without,
    the PEFT model is returned (adapter can be disabled for reference passes).
    """
    if is_run_dir(name_or_run):
        from peft import PeftModel

        run = Path(name_or_run)
        adapter = run / "adapter"
        if not (run / "result.json").exists():
            raise RuntimeError(f"{run} is not finished (no result.json); resume it with `emguard finetune` first")
        model, tok = load_model(run_base_model(run), dtype, device)
        model = PeftModel.from_pretrained(model, str(adapter))
        if merge:
            model = model.merge_and_unload()
        model.eval()
        return model, tok
    p = Path(name_or_run)
    if p.is_dir() and (p / "config.json").exists() and not (p / "model.safetensors").exists() and (p / "adapter").exists():
        raise RuntimeError(f"{p} looks like an unfinished run folder (no adapter yet)")
    return load_model(name_or_run, dtype, device)
