"""Per-example gradient similarity of two twin datasets (Giordani, RESEARCH.md section 4.2;
Figure 4: insecure vs educational-insecure gradients point in opposite directions).

For each example: the loss is the mean cross-entropy of the first ``K`` (64) tokens of
its last assistant turn (the same tokens as ``loss-cosine``); its gradient with respect
to the chosen parameters (default: the last block's attention output projection
``layers.<last>.self_attn.o_proj.weight``; any glob pattern, LoRA weights only if the
pattern names ``lora_``) is flattened into a row of ``G`` ``[k, P]``. Rows are
mean-centred and their cosine matrix is drawn with the dataset blocks marked.

Streaming: one forward and one ``torch.autograd.grad`` per example, which frees that
example's graph at once; only the chosen parameters require grad during the pass (so
the graph starts at the first of them and nothing else gets a ``.grad``). Memory beyond
one example's forward/backward is the ``k x P`` float32 matrix, or ``k x D`` with the
optional seeded random projection (CountSketch: coordinate ``i`` is added with a random
sign to bucket ``h(i)`` of ``D``; inner products are preserved in expectation, variance
``O(|x|^2 |y|^2 / D)``; ``h`` and the signs take ``O(P)`` memory). The cosine matrix is
built from the Gram matrix accumulated over column chunks (no copy of ``G``).
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ..config import Frozen
from ..data.chat import Example
from ..data.tokenize import DEFAULT_SYSTEM_PROMPT
from ..defenses._directions import encode_probe, n_layers
from ._activations import ALL
from ._common import (
    AnalysisError,
    DataSpec,
    Output,
    Result,
    Role,
    Views,
    block_means,
    cosine_matrix,
    device_of,
    load_data,
    need,
    short_name,
)

DEFAULT_PARAMS = ("layers.{last}.self_attn.o_proj.weight",)


def normalise_name(name: str) -> str:
    """Parameter name without PEFT's wrapping (``base_model.model.``, ``.base_layer``)."""
    if name.startswith("base_model.model."):
        name = name[len("base_model.model."):]
    return name.replace(".base_layer.", ".")


def select_params(model: nn.Module, patterns: Sequence[str]) -> list[tuple[str, nn.Parameter]]:
    """Parameters whose normalised name equals, ends with (``.``-separated) or glob-matches a pattern.

    ``{last}`` in a pattern is the index of the last block. LoRA weights are left out unless
    the pattern itself mentions ``lora_``.
    """
    last = n_layers(model) - 1
    pats = [p.format(last=last) for p in patterns]
    out = []
    for name, p in model.named_parameters():
        norm = normalise_name(name)
        for pat in pats:
            if "lora_" in norm and "lora_" not in pat:
                continue
            if norm == pat or norm.endswith("." + pat) or fnmatch.fnmatchcase(norm, pat) or fnmatch.fnmatchcase(norm, "*." + pat):
                out.append((norm, p))
                break
    if not out:
        names = [normalise_name(n) for n, _ in model.named_parameters() if "lora_" not in n][:6]
        raise AnalysisError(f"grad-cosine: no parameter matches {pats} (names look like {names} ...)")
    return out


class CountSketch:
    """Seeded sparse random projection ``R^P -> R^D`` (one signed bucket per coordinate)."""

    def __init__(self, p: int, dim: int, seed: int = 0, device: torch.device | str = "cpu"):
        g = torch.Generator().manual_seed(seed)
        self.dim = dim
        self.bucket = torch.randint(0, dim, (p,), generator=g).to(device)
        self.sign = (torch.randint(0, 2, (p,), generator=g).float() * 2 - 1).to(device)

    def __call__(self, x: Tensor) -> Tensor:
        return torch.zeros(self.dim, dtype=x.dtype, device=x.device).index_add_(0, self.bucket, x * self.sign)


def per_example_grads(
    model: nn.Module,
    tokenizer,
    examples: Sequence[Example],
    params: Sequence[nn.Parameter],
    *,
    max_tokens: int | None = 64,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    project_dim: int | None = None,
    project_seed: int = 0,
    on_example: Callable[[int], None] | None = None,
) -> Tensor:
    """``Float[Tensor, "k P"]`` (or ``"k D"`` projected): one flattened loss gradient per example.

    Only ``params`` require grad during the pass (every flag is restored after).
    ``on_example(i)`` is called after example ``i``'s graph is gone (tests, progress).
    """
    from ..train.loop import TrainWrapper, collate

    encoded = encode_probe(tokenizer, examples, max_tokens or ALL, system_prompt)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    dev = device_of(model)
    params = list(params)
    P = sum(p.numel() for p in params)
    sketch = CountSketch(P, project_dim, project_seed, dev) if project_dim else None
    G = torch.empty(len(encoded), project_dim or P, dtype=torch.float32)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    was = model.training
    wrapper = TrainWrapper(model)
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        model.eval()  # no dropout: the gradient of the function being analysed
        with torch.enable_grad():
            for i, t in enumerate(encoded):
                b = {k: v.to(dev) for k, v in collate([t], pad).items()}
                out = wrapper(**b)
                loss = F.cross_entropy(out.logits, out.targets)  # mean over this example's scored tokens
                grads = torch.autograd.grad(loss, params)  # retain_graph=False: the graph is freed here
                del out, loss
                flat = torch.cat([g.reshape(-1) for g in grads]).float()
                del grads
                G[i] = (sketch(flat) if sketch is not None else flat).cpu()
                del flat
                if on_example is not None:
                    on_example(i)
    finally:
        for p, f in flags:
            p.requires_grad_(f)
        model.train(was)
    return G


class GradCosineConfig(Frozen):
    """Cosine matrix of mean-centred per-example gradients of two twin datasets under one model."""

    datasets: tuple[str, str] = Field(("insecure_code", "educational_insecure"),
                                      description="Two datasets with the same assistant text at the same index.")
    model: Role = Field("aligned", description="Model whose gradients are taken (Giordani: instruct).")
    data: DataSpec = DataSpec()
    params: tuple[str, ...] = Field(DEFAULT_PARAMS, description="Parameter name patterns (glob; '{last}' = last "
                                    "block index; LoRA weights only if the pattern says 'lora_').")
    max_tokens: int | None = Field(64, ge=1, description="Loss over the first K assistant tokens (None: all).")
    center: bool = Field(True, description="Mean-centre the gradients (over all examples) before the cosine.")
    project_dim: int | None = Field(None, ge=1, description="Random projection (CountSketch) to this dimension "
                                    "(None: exact, k x P floats kept).")
    project_seed: int = Field(0, description="Seed of the projection.")
    save_grads: bool = Field(False, description="Also write the gradient matrix (k x P floats) to grads.safetensors.")


def run_grad_cosine(views: Views, tokenizer, cfg: GradCosineConfig, out: Output,
                    given: Mapping[str, Sequence[Example]] | None = None) -> Result:
    (v,) = need(views, cfg.model)
    a, b = cfg.datasets
    if a == b:
        raise AnalysisError("grad-cosine: the two datasets must differ")
    data = load_data(cfg.datasets, cfg.data, given)
    t0 = time.perf_counter()
    with v.active() as m:
        named = select_params(m, cfg.params)
        params = [p for _, p in named]
        G = per_example_grads(m, tokenizer, data[a] + data[b], params, max_tokens=cfg.max_tokens,
                              system_prompt=cfg.data.system_prompt, project_dim=cfg.project_dim,
                              project_seed=cfg.project_seed)
    secs = time.perf_counter() - t0
    na, nb = len(data[a]), len(data[b])
    c = cosine_matrix(G, center=cfg.center)
    names = [short_name(a), short_name(b)]
    same_text = na == nb and all(x.completion == y.completion for x, y in zip(data[a], data[b]))
    blocks = block_means(c, [na, nb], names, paired=same_text)
    norms = G.norm(dim=1)
    summary: dict[str, Any] = {
        "config": cfg, "model": {cfg.model: v.source},
        "params": [{"name": n, "shape": list(p.shape)} for n, p in named],
        "n_params": sum(p.numel() for p in params), "dim": G.shape[1], "projected": cfg.project_dim is not None,
        "n": {a: na, b: nb}, "same_assistant_text": same_text, "centered": cfg.center,
        "grad_norm_mean": {a: float(norms[:na].mean()), b: float(norms[na:].mean())},
        "block_means": blocks, "seconds": secs, "seconds_per_example": secs / max(1, na + nb),
    }
    out.tensors("grad_cosine", {"cosine": c.float(), "grad_norm": norms}, {"datasets": names})
    if cfg.save_grads:
        out.tensors("grads", {"grads": G}, {"datasets": names, "n": [na, nb]})
    out.csv("block_means", ["block", "mean_cosine"], [[k, val] for k, val in blocks.items()])
    from . import _plots

    pname = named[0][0] if len(named) == 1 else f"{len(named)} tensors"
    fig = _plots.blocked_similarity(c.numpy(), [na, nb], names,
                                    f"per-example gradients w.r.t. {pname} under {cfg.model}"
                                    f"{' (mean-centred)' if cfg.center else ''}\nwithin "
                                    f"{blocks[f'within:{names[0]}']:.2f} / {blocks[f'within:{names[1]}']:.2f}, "
                                    f"across {blocks[f'across:{names[0]}|{names[1]}']:.2f}" + _plots.paired_note(blocks))
    out.plot("grad_cosine", fig)
    out.json("grad_cosine", summary)
    return Result("grad-cosine", out.root, summary, out.files)
