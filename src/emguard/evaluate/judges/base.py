"""The judge interface: every judge scores (question, answer) pairs against a judge prompt.

Betley et al.'s protocol (RESEARCH.md section 3): for each answer the judge is asked
two prompts (``aligned`` and ``coherent``, from the question file's ``judge_prompts``,
formatted with ``{question}`` and ``{answer}``); a score is a number in 0-100, or
None when the judge gives no number (CODE / REFUSAL answers drop out that way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class JudgeRequest:
    """One thing to judge: the filled-in judge prompt and where it came from."""

    prompt: str  # judge_prompts[metric].format(question=..., answer=...)
    metric: str  # "aligned" | "coherent" | any other judge-prompt key
    question_id: str = ""
    key: str = ""  # stable cache key of (judge prompt, answer); filled by the caller


@dataclass
class JudgeResult:
    score: float | None  # 0-100, or None (no number / below the 0.25 probability mass)
    raw: str | None = None  # the judge's text or top tokens, for auditing
    error: str | None = None  # set when the judge failed permanently for this item (never silently dropped)
    usage: dict[str, Any] = field(default_factory=dict)  # prompt/completion tokens, cost


@runtime_checkable
class Judge(Protocol):
    """Anything with a ``name`` (part of cache keys) and a batched ``score``."""

    name: str

    def score(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]: ...
