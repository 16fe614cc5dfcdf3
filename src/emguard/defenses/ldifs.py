"""LDIFS: keep the fine-tuned model's internal features near the aligned model's
(Kaczér et al., RESEARCH.md section 2).

``||phi_theta(x) - phi_ref(x)||^2`` per assistant token, ``phi`` = the hidden states
of the chosen layers, each L2-normalised per token, concatenated (so the squared
distance is the sum over layers of the per-layer squared distances, each in [0, 4]).
Positions: the states that predict the assistant tokens
(``hidden_states[l][:, :-1][label_mask]``, the same positions as the logits). The
reference is the model with its adapter disabled (shared ``ctx.reference()``).
Features of the trained model keep their graph: a companion repo computed them under
``no_grad`` and the term did nothing.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..train.terms import LossTerm, StepContext, register_defense
from ._directions import check_layers_arg, n_layers, resolve_layers


def ldifs_distance(hs: Sequence[Tensor], ref_hs: Sequence[Tensor], label_mask: Tensor, layers: Sequence[int]) -> Tensor:
    """Sum over labelled positions of ``sum_l ||n(h_l) - n(h_l^ref)||^2`` (n = per-token L2 normalisation)."""
    total = torch.zeros((), device=label_mask.device)
    for l in layers:
        a = F.normalize(hs[l][:, :-1][label_mask].float(), dim=-1)  # [N, d]
        b = F.normalize(ref_hs[l][:, :-1][label_mask].float(), dim=-1)
        total = total + (a - b).pow(2).sum()
    return total


@register_defense
class LDIFSTerm(LossTerm):
    """LDIFS: squared distance of L2-normalised hidden features to the aligned model's; Kaczér et al."""

    name = "ldifs"
    needs_hidden_states = True

    def __init__(self, weight: float = 1.0, layers: list[int] | None = None, every: int = 5, **params: Any):
        """
        layers: indices into hidden_states (0 = embeddings, l = block l; negative from the end).
        every:  if layers is None, every ``every``-th block: 5, 10, ... (the last block if the model has fewer).
        """
        super().__init__(weight, **params)
        self.layers_arg, self.every = check_layers_arg(layers, every, "ldifs")
        self.layers: list[int] | None = None

    def setup(self, model, tokenizer, config) -> None:
        self.layers = resolve_layers(self.layers_arg, self.every, n_layers(model), "ldifs")

    def compute(self, ctx: StepContext) -> Tensor:
        hs = ctx.out.hidden_states
        if hs is None:
            raise RuntimeError("ldifs: the forward returned no hidden states (needs_hidden_states not honoured)")
        if self.layers is None:
            self.layers = resolve_layers(self.layers_arg, self.every, len(hs) - 1, "ldifs")
        ref = ctx.reference().hidden_states
        assert ref is not None
        return ldifs_distance(hs, ref, ctx.out.label_mask, self.layers)
