"""The open end of training: defenses plug in here.

A :class:`Defense` may (any subset):
- add a loss term (``has_loss = True`` and :meth:`Defense.compute`),
- change the training data before tokenization (:meth:`Defense.transform_data`,
  e.g. interleaving safe examples),
- watch training (:meth:`Defense.on_step_end`, e.g. a drift monitor; returned
  metrics are logged, raising :class:`StopTraining` ends the run early),
- change the adapter after training, before it is saved (:meth:`Defense.on_train_end`,
  e.g. SafeLoRA's projection).

The loop computes, per micro-batch, ``CE_sum + sum_k weight_k * term_k.compute(ctx)``
and divides by the number of labelled (assistant) tokens of the whole optimizer
step, across gradient-accumulation micro-batches and processes. So a per-token
term returns its **sum over labelled tokens** (not the mean): normalisation is
then exact under any accumulation / world size.

A term sees a :class:`StepContext`: the batch, the trained model's logits at the
labelled positions (with grad), its hidden states when asked for, and a lazily
computed *reference* forward (the same model with the LoRA adapter disabled,
under ``no_grad``: no second copy of the weights) shared by all terms of the step.

Adding a defense = one new module with a ``LossTerm`` subclass + ``@register_term``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor


@dataclass
class ForwardOut:
    """What one forward of the training wrapper returns.

    logits:        Float[Tensor, "n_label vocab"]  LM head at labelled positions only
    targets:       Long[Tensor, "n_label"]          next-token ids at those positions
    label_mask:    Bool[Tensor, "batch seq-1"]      which shifted positions are labelled
    hidden_states: tuple of Float[Tensor, "batch seq d"] (embeddings + every layer) or None
    lse:           Float[Tensor, "n_label"] logsumexp of ``logits`` (with grad), set by the training loop,
                   which computes the CE from it: a term that needs the normalisation (KL) reuses it, so
                   the full-vocabulary log-softmax is computed (and back-propagated) once per step
    ce:            Float[Tensor, "n_label"] per-token CE when the forward computed it without logits
                   (:class:`FusedCEOut`), else None
    head_input:    Float[Tensor, "n_label d"] the final hidden states at the labelled positions, set when
                   the LM head is a plain frozen linear map ``head_weight`` (else None): a term can go
                   through the head chunk by chunk (the exact KL) instead of reading ``logits``
    head_autocast: a context factory re-entering the autocast the forward ran under (for such a term)
    """

    logits: Tensor
    targets: Tensor
    label_mask: Tensor
    hidden_states: tuple[Tensor, ...] | None = None
    lse: Tensor | None = None
    ce: Tensor | None = None
    head_input: Tensor | None = None
    head_weight: Tensor | None = None
    head_autocast: Callable[[], Any] | None = None


class FusedCEOut(ForwardOut):
    """The trained model's forward when no loss term reads its logits: the per-token CE (``ce``, with
    grad) was computed through the LM head chunk by chunk and the ``n_label x vocab`` logits never
    existed. A term that needs them declares ``needs_logits = True`` (then the loop asks for logits)."""

    def __init__(self, ce: Tensor, targets: Tensor, label_mask: Tensor, hidden_states: tuple[Tensor, ...] | None = None):
        self.ce, self.targets, self.label_mask, self.hidden_states, self.lse = ce, targets, label_mask, hidden_states, None

    @property
    def logits(self) -> Tensor:  # type: ignore[override]
        raise RuntimeError("this forward computed the CE without logits (fused); a loss term that reads the trained "
                           "model's logits must set `needs_logits = True` on its class")


class LazyLogitsOut(ForwardOut):
    """A :class:`ForwardOut` whose ``logits`` are computed on first access, inside ``context()``.

    The reference forward returns one: LDIFS and anchoring read only hidden states, so
    the LM head (``n_label x vocab``) of the reference never runs for them.
    """

    def __init__(self, compute: Callable[[], Tensor], targets: Tensor, label_mask: Tensor,
                 hidden_states: tuple[Tensor, ...] | None = None, context: Callable[[], Any] | None = None):
        self._compute: Callable[[], Tensor] | None = compute
        self._context = context
        self._logits: Tensor | None = None
        self.targets, self.label_mask, self.hidden_states = targets, label_mask, hidden_states
        self.lse = None

    @property
    def logits(self) -> Tensor:  # type: ignore[override]
        if self._logits is None:
            assert self._compute is not None
            with self._context() if self._context is not None else nullcontext():
                self._logits = self._compute()
            self._compute = None
        return self._logits

    @property
    def logits_computed(self) -> bool:
        return self._logits is not None


@dataclass
class StepContext:
    batch: dict[str, Tensor]
    out: ForwardOut
    step: int
    _reference_fn: Callable[[], ForwardOut]
    example_ids: list[int] = field(default_factory=list)  # dataset indices of the micro-batch rows
    _reference: ForwardOut | None = field(default=None, repr=False)

    def reference(self) -> ForwardOut:
        """Forward of the reference model (adapter disabled), computed once per micro-batch."""
        if self._reference is None:
            self._reference = self._reference_fn()
        return self._reference


class StopTraining(Exception):
    """Raised by a defense's ``on_step_end`` to end training early (e.g. drift alarm)."""


class Defense:
    """Base class of everything that plugs into training (see the module docstring).

    Subclasses set ``name``; ``has_loss`` + :meth:`compute` for a loss term;
    ``needs_hidden_states`` makes the loop return every layer's hidden states;
    ``needs_logits``: :meth:`compute` reads ``ctx.out.logits`` (the trained model's LM head at
    the labelled positions; otherwise the loop computes the CE without them).
    """

    name: ClassVar[str] = ""
    has_loss: ClassVar[bool] = False
    needs_hidden_states: ClassVar[bool] = False
    needs_logits: ClassVar[bool] = False

    def __init__(self, weight: float = 1.0, **params: Any):
        if params:
            raise ValueError(f"defense {self.name!r}: unknown params {sorted(params)}")
        self.weight = weight

    def bind_run_dir(self, run_dir, is_main_process: bool) -> None:
        """Called before :meth:`setup` with the run folder, for a defense that keeps files there while
        training (e.g. early stopping's snapshots; ``is_main_process``: the one process that writes)."""

    def setup(self, model, tokenizer, config) -> None:
        """One-time preparation on the LoRA-wrapped model before training (e.g. probe directions)."""

    def transform_data(self, examples: list, config) -> list:
        """Change the training examples (before tokenization). Default: unchanged."""
        return examples

    def compute(self, ctx: StepContext) -> Tensor:
        """The loss term summed over labelled tokens (a scalar tensor with grad)."""
        raise NotImplementedError

    def fill_reference_cache(self, ctx: StepContext) -> int:
        """Precompute and cache the reference values of ``ctx``'s rows (before training).

        ``ctx.out`` carries only ``label_mask`` (no trained-model forward); the reference is
        ``ctx.reference()``. Returns the number of rows computed (0: nothing to cache).
        A term with a per-example reference cache overrides this and sets
        ``precomputes_reference``: :meth:`TrainStep.precompute_references` then fills the
        cache in one pass over the data before the first step, so every step, the first
        epoch's included, runs at the cached cost.
        """
        return 0

    @property
    def precomputes_reference(self) -> bool:
        return False

    def on_step_end(self, step: int, model, metrics: dict[str, Any]) -> dict[str, Any] | None:
        """Called after every optimizer step; returned items are logged."""
        return None

    def on_train_end(self, model, run_dir) -> dict[str, Any] | None:
        """Called before the adapter is saved; may change it. Returned dict goes to result.json."""
        return None


class LossTerm(Defense):
    """A defense that is just a loss term."""

    has_loss = True


_TERMS: dict[str, type[Defense]] = {}


def register_defense(cls: type[Defense]) -> type[Defense]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _TERMS and _TERMS[cls.name] is not cls:
        raise ValueError(f"defense {cls.name!r} registered twice")
    _TERMS[cls.name] = cls
    return cls


def available_defenses() -> list[str]:
    _load_builtin_terms()
    return sorted(_TERMS)


def make_defense(name: str, weight: float | None, params: dict[str, Any]) -> Defense:
    _load_builtin_terms()
    if name not in _TERMS:
        raise ValueError(f"unknown defense {name!r}; available: {', '.join(sorted(_TERMS)) or '(none)'}")
    return _TERMS[name](**params) if weight is None else _TERMS[name](weight=weight, **params)


def _load_builtin_terms() -> None:
    try:
        from .. import defenses  # noqa: F401  (registers the defenses)
    except ImportError as e:  # the package may not exist in a stripped-down install
        if "defenses" not in str(e):
            raise


@register_defense
class L2ToInitTerm(LossTerm):
    """Squared norm of the LoRA B matrices (dW = B A is zero iff B is), per labelled token.

    Weight decay towards the aligned weights, scaled like the CE sum: a simple
    baseline defense to compare the others against.
    """

    name = "l2_to_init"

    def __init__(self, weight: float = 1.0, **params: Any):
        super().__init__(weight, **params)
        self._params: list[Tensor] = []

    def setup(self, model, tokenizer, config) -> None:
        self._params = [p for n, p in model.named_parameters() if p.requires_grad and "lora_B" in n]

    def compute(self, ctx: StepContext) -> Tensor:
        n_tok = ctx.out.targets.numel()
        sq = sum((p.float() ** 2).sum() for p in self._params)
        return sq * n_tok
