"""Fine-tuning: the LoRA loop, its extra loss terms (defenses plug in), run folders."""

from .loop import FinetuneResult, Plan, TrainStep, TrainWrapper, add_lora, collate, finetune
from .terms import Defense, ForwardOut, LossTerm, StepContext, StopTraining, available_defenses, make_defense, register_defense

__all__ = [
    "FinetuneResult",
    "ForwardOut",
    "LossTerm",
    "Plan",
    "StepContext",
    "TrainStep",
    "TrainWrapper",
    "add_lora",
    "Defense",
    "StopTraining",
    "available_defenses",
    "collate",
    "finetune",
    "make_defense",
    "register_defense",
]
