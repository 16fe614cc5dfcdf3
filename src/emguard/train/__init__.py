"""Fine-tuning: the LoRA loop, its extra loss terms (defenses plug in), run folders."""

from .loop import FinetuneResult, Plan, TrainWrapper, add_lora, collate, finetune
from .terms import ForwardOut, LossTerm, StepContext, available_terms, make_term, register_term

__all__ = [
    "FinetuneResult",
    "ForwardOut",
    "LossTerm",
    "Plan",
    "StepContext",
    "TrainWrapper",
    "add_lora",
    "available_terms",
    "collate",
    "finetune",
    "make_term",
    "register_term",
]
