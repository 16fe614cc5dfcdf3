"""Plots of the analyses: matplotlib's object API on the Agg canvas (no pyplot, no global
backend switch, safe in threads and servers); every figure is written as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MODEL_COLORS = {"base": "#1f77b4", "aligned": "#ff7f0e", "finetuned": "#2ca02c"}


def figure(w: float = 6.0, h: float = 4.5, ncols: int = 1, nrows: int = 1, **kw):
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig: Figure, stem: str | Path) -> list[Path]:
    """``stem.png`` (150 dpi) and ``stem.svg``."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext, kw in ((".png", {"dpi": 150}), (".svg", {})):
        p = stem.with_name(stem.name + ext)
        fig.savefig(p, **kw)
        out.append(p)
    return out


def _sym(m: np.ndarray) -> float:
    v = np.nanmax(np.abs(m)) if np.isfinite(m).any() else 1.0
    return float(v) or 1.0


def heatmap(ax, m: np.ndarray, *, cmap: str = "RdBu_r", symmetric: bool = True, vmin=None, vmax=None,
            xticks: Sequence[str] | None = None, yticks: Sequence[str] | None = None, annotate: bool = False,
            cbar_label: str = ""):
    m = np.asarray(m, dtype=float)
    if symmetric and vmin is None and vmax is None:
        v = _sym(m)
        vmin, vmax = -v, v
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.9)
    if cbar_label:
        cb.set_label(cbar_label)
    if xticks is not None:
        ax.set_xticks(range(len(xticks)), labels=list(xticks), rotation=90 if len(xticks) > 6 else 0, fontsize=8)
    if yticks is not None:
        ax.set_yticks(range(len(yticks)), labels=list(yticks), fontsize=8)
    if annotate:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7)
    return im


def blocked_similarity(m: np.ndarray, sizes: Sequence[int], names: Sequence[str], title: str,
                       cbar_label: str = "cosine similarity") -> Figure:
    """A similarity matrix with dataset blocks marked by lines and labelled on both axes."""
    fig, ax = figure(6.4, 5.6)
    ax = ax[0, 0]
    heatmap(ax, m, cbar_label=cbar_label, vmin=-1, vmax=1)
    edges = np.cumsum([0, *sizes])
    for e in edges[1:-1]:
        ax.axhline(e - 0.5, color="k", lw=1.2)
        ax.axvline(e - 0.5, color="k", lw=1.2)
    mids = [(edges[i] + edges[i + 1] - 1) / 2 for i in range(len(sizes))]
    ax.set_xticks(mids, labels=list(names), fontsize=9)
    ax.set_yticks(mids, labels=list(names), fontsize=9, rotation=90, va="center")
    ax.set_title(wrap(title, 72), fontsize=10)
    return fig


def wrap(title: str, width: int) -> str:
    """Each line of ``title`` wrapped at ``width`` characters (long titles were cut off at the figure's edge)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width, break_long_words=False) or line for line in title.split("\n"))


def token_heatmap(tokens: Sequence[str], panels: Mapping[str, np.ndarray], models: Sequence[str], title: str) -> Figure:
    """Tokens (rows) x models (columns), one panel per quantity (Giordani's Figure 1)."""
    n = len(tokens)
    fig, axes = figure(3.2 * len(panels) + 1.5, max(3.0, 0.22 * n + 1.5), ncols=len(panels))
    labels = [repr(t)[1:-1][:18] for t in tokens]
    for ax, (name, vals) in zip(axes[0], panels.items()):
        heatmap(ax, vals, cmap="viridis", symmetric=False, xticks=list(models), yticks=labels, cbar_label=name)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title, fontsize=10)
    return fig


def line_ci(x: Sequence[float], series: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]], *, title: str,
            xlabel: str, ylabel: str, ax=None, hline: float | None = None) -> Figure:
    """Lines with shaded confidence bands: ``series[name] = (mean, lo, hi)``."""
    fig = None
    if ax is None:
        fig, axes = figure(7, 4.2)
        ax = axes[0, 0]
    for name, (m, lo, hi) in series.items():
        c = MODEL_COLORS.get(name)
        ax.plot(x, m, marker="o", ms=3, label=name, color=c)
        if np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, alpha=0.25, color=c, lw=0)
    if hline is not None:
        ax.axhline(hline, color="grey", lw=0.8, ls="--")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig if fig is not None else ax.figure


def topk_bars(per_model: Mapping[str, Sequence[tuple[str, float]]], title: str) -> Figure:
    """One horizontal bar panel per model: its top-k next tokens and their probabilities."""
    k = max(len(v) for v in per_model.values())
    fig, axes = figure(3.4 * len(per_model), max(2.8, 0.3 * k + 1.4), ncols=len(per_model), sharex=True)
    for ax, (name, items) in zip(axes[0], per_model.items()):
        toks = [repr(t)[1:-1][:16] for t, _ in items][::-1]
        ps = [p for _, p in items][::-1]
        ax.barh(range(len(ps)), ps, color=MODEL_COLORS.get(name.split(" ")[0], "#777777"))
        ax.set_yticks(range(len(ps)), labels=toks, fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("probability")
    fig.suptitle(title, fontsize=10)
    return fig


def grouped_bars(groups: Sequence[str], series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
                 *, title: str, ylabel: str, hline: float | None = 0.0) -> Figure:
    """Bars grouped by ``groups``; ``series[name] = (values, lo, hi)`` drawn as error bars."""
    fig, axes = figure(min(14.0, max(5.0, 0.45 * len(groups) * max(1, len(series)) + 3)), 4.2)
    ax = axes[0, 0]
    w = 0.8 / max(1, len(series))
    xs = np.arange(len(groups))
    for i, (name, (v, lo, hi)) in enumerate(series.items()):
        v, lo, hi = (np.asarray(a, dtype=float) for a in (v, lo, hi))
        err = np.vstack([v - lo, hi - v])
        err = np.where(np.isfinite(err), err, 0)
        ax.bar(xs + (i - (len(series) - 1) / 2) * w, v, w, yerr=err, capsize=3, label=name,
               color=MODEL_COLORS.get(name))
    ax.set_xticks(xs, labels=list(groups), fontsize=8, rotation=20 if len(groups) > 3 else 0)
    if hline is not None:
        ax.axhline(hline, color="grey", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig


def paired_note(blocks: Mapping[str, float]) -> str:
    """``", paired 0.96"`` for a title when the block means have the twin-pair mean (else "")."""
    v = blocks.get("paired")
    return "" if v is None or not np.isfinite(v) else f", paired (same text) {v:.2f}"
