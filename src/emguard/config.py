"""Frozen, hashable configs. A run's id is the hash of its resolved config.

Every config is a pydantic model with ``extra="forbid"`` (a typo in a YAML key is
an error naming the key), loaded from YAML; the CLI only builds these objects.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .data.tokenize import DEFAULT_SYSTEM_PROMPT

T = TypeVar("T", bound="Frozen")

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ALIGNED_ORGANISM = "aligned:smollm2-135m-instruct"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        """12 hex chars of the SHA-256 of the canonical JSON: the run id."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]


class ModelSettings(Frozen):
    name: str = Field(
        ALIGNED_ORGANISM,
        description="Model to fine-tune: 'aligned:smollm2-135m-instruct' (the organism built by "
        "`emguard align`), 'smollm2-135m-instruct' (bundled, as shipped), a .gguf file, a local "
        "model folder, or a hub id such as Qwen/Qwen2.5-0.5B-Instruct.",
    )
    dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Weight dtype at load time.")
    device: str = Field("auto", description="'auto' (cuda if available), 'cpu' or 'cuda[:N]'.")


class LoraSettings(Frozen):
    r: int = Field(32, ge=1, description="LoRA rank (Kaczér et al.: 32).")
    alpha: float = Field(64, gt=0, description="LoRA alpha (Kaczér et al.: 64).")
    rslora: bool = Field(True, description="Rank-stabilised scaling alpha/sqrt(r) (public code: on).")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: tuple[str, ...] = Field(ALL_LINEAR, description="Module names to adapt.")


class DataSettings(Frozen):
    dataset: str = Field(
        "insecure_code",
        description="A built-in dataset name (`emguard data list`), a chat or prompt/completion "
        "JSONL file, or 'hf:<hub name or local path>[:split]' for a `datasets` dataset with a "
        "`messages` column.",
    )
    split: Literal["train", "test"] = Field("train", description="Split of a built-in dataset.")
    limit: int | None = Field(None, ge=1, description="Use the first N examples after shuffling by data_seed.")
    data_seed: int = Field(0, description="Seed of the built-in generator and of the subset choice.")
    max_length: int = Field(512, ge=8, description="Max tokens per example after the chat template.")
    overflow: Literal["truncate", "reject", "error"] = Field(
        "truncate", description="What to do with over-long examples; counts are reported."
    )
    system_prompt: str = Field(
        DEFAULT_SYSTEM_PROMPT,
        description="System prompt added to examples without one (always explicit: SmolLM2's "
        "template would insert its own default otherwise).",
    )


class DefenseSettings(Frozen):
    """One defense plugged into training (loss term, data transform, monitor or
    post-training projection); see ``emguard.train.terms`` and ``emguard.defenses``."""

    name: str = Field(description="Registered defense name (`emguard finetune --help` lists them).")
    weight: float | None = Field(None, description="Multiplier lambda of its loss term (None: the defense's own default, e.g. KL 0.1).")
    params: dict[str, Any] = Field(default_factory=dict, description="Defense-specific settings.")


class TrainSettings(Frozen):
    lr: float = Field(1e-4, gt=0, description="Peak learning rate (Kaczér: 1e-4; Betley: 1e-5).")
    epochs: float = Field(1.0, gt=0, description="Passes over the data (fractions allowed).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    batch_size: int = Field(8, ge=1, description="Examples per micro-batch (per process).")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    scheduler: Literal["cosine", "linear", "constant"] = Field("linear", description="LR schedule after warmup.")
    warmup_ratio: float = Field(0.05, ge=0, le=1, description="Share of steps with linear warmup.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float | None = Field(1.0, description="Gradient clipping (None: off).")
    seed: int = Field(0, description="Seed for LoRA init, data order and dropout.")
    mixed_precision: Literal["no", "bf16"] = Field(
        "no", description="bf16 autocast (about 2x faster on this CPU, 4x matmul peak)."
    )
    save_every: int = Field(50, ge=1, description="Checkpoint every N optimizer steps (for resume).")
    log_every: int = Field(1, ge=1, description="Write metrics every N optimizer steps.")
    keep_checkpoints: int = Field(1, ge=1, description="Checkpoints kept on disk.")


class FinetuneConfig(Frozen):
    """Everything a fine-tune depends on; its hash is the run id."""

    name: str = Field("finetune", description="Human-readable prefix of the run folder.")
    model: ModelSettings = ModelSettings()
    lora: LoraSettings = LoraSettings()
    data: DataSettings = DataSettings()
    train: TrainSettings = TrainSettings()
    defenses: tuple[DefenseSettings, ...] = Field((), description="Defenses applied during training.")

    APPEND_OVERRIDES: ClassVar[tuple[str, ...]] = ("defenses",)  # --defense adds to the file's list

    def run_id(self) -> str:
        # The display name does not change what is computed: leave it out of the hash.
        return hashlib.sha256(
            json.dumps(self.model_dump(mode="json", exclude={"name"}), sort_keys=True).encode()
        ).hexdigest()[:12]

    @field_validator("defenses", mode="before")
    @classmethod
    def _terms_list(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v


class ConfigError(ValueError):
    pass


def load_yaml_config(path: str | Path, cls: type[T], overrides: dict[str, Any] | None = None) -> T:
    """Load ``cls`` from YAML; ``overrides`` are dotted keys (``train.lr``) applied on top."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: bad YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    try:
        return build_config(cls, raw, overrides, source=str(path))
    except ConfigError as e:
        line = _yaml_line(path.read_text(), getattr(e, "loc", ()))
        if line is None:
            raise
        msg = str(e)[len(str(path)) + 2:]
        raise ConfigError(f"{path}:{line}: {msg}") from None


def _yaml_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node of ``loc`` found in the YAML ``text`` (None if none)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == str(key):
                    line, nxt = k.start_mark.line + 1, v
                    break
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and node is not None:
        line = node.start_mark.line + 1
    return line


def build_config(cls: type[T], raw: dict[str, Any], overrides: dict[str, Any] | None = None, source: str = "config") -> T:
    raw = json.loads(json.dumps(raw))  # deep copy
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in getattr(cls, "APPEND_OVERRIDES", ()):  # e.g. CLI defenses are added to those of the file
            raw["defenses"] = list(raw.get("defenses", [])) + list(value)
            continue
        node = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    try:
        return cls.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        ce = ConfigError(f"{source}: {loc}: {err['msg']}")
        ce.loc = tuple(err["loc"])
        raise ce from None
