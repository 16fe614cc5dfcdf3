"""The ``emguard`` command line. Thin: it builds configs and calls the library."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Column, Table
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.29 vendors its click
from typer.core import TyperGroup

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class _OneLineErrors(TyperGroup):
    """Usage errors (a bad option value, an unknown option, a missing argument) as ONE line on stderr,
    ``error: ... (see `emguard CMD --help`)``, exit 2, like every other emguard error (typer would draw a
    usage block and a box that wraps the message over several lines)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as e:  # bare `emguard` / `emguard data`: the help, as usual
            if not typer.core.HAS_RICH:
                e.show()
            sys.exit(e.exit_code)
        except ClickException as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            msg = " ".join(e.format_message().replace("Value error, ", "").split())
            typer.echo(f"error: {msg}{hint}", err=True)
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(cls=_OneLineErrors, add_completion=False, no_args_is_help=True,
                  help="Induce, measure, prevent and explain emergent misalignment.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: list, show, validate, export.")
app.add_typer(data_app, name="data")
console = Console(soft_wrap=True)


def _fail(msg: str) -> None:
    typer.echo(f"error: {' '.join(str(msg).split())}", err=True)  # one line, never wrapped
    raise typer.Exit(2)


# Choices are Literal annotations (typer checks them and lists them in --help); numbers get min/max.
Split = Literal["train", "test"]
DType = Literal["fp32", "bf16", "fp16", "auto"]


def _finite(value: Optional[float]) -> Optional[float]:
    """Option callback: NaN and inf are refused (a NaN temperature or threshold passes any range check)."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def _positive(value: Optional[float]) -> Optional[float]:
    """Option callback: a finite number > 0."""
    value = _finite(value)
    if value is not None and value <= 0:
        raise typer.BadParameter(f"{value} is not > 0")
    return value


def _device(value: str) -> str:
    """Option callback: auto | cpu | cuda | cuda:N | mps (the config's rule)."""
    from .config import check_device

    try:
        return check_device(value)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


# ---------------------------------------------------------------- data


@data_app.command("list")
def data_list() -> None:
    """List the built-in datasets with their train/test sizes."""
    from .data import build_dataset, list_datasets

    t = Table(Column("name", no_wrap=True), "kind", "group", "train", "test", "description")
    for d in list_datasets():
        t.add_row(d.name, d.kind, d.group, str(len(build_dataset(d.name, "train"))), str(len(build_dataset(d.name, "test"))), d.description)
    console.print(t)


@data_app.command("show")
def data_show(
    name: str,
    n: int = typer.Option(3, min=0, help="Examples to print."),
    split: Split = typer.Option("train", help="train or test."),
    seed: int = typer.Option(0, help="Generator seed."),
) -> None:
    """Print the first N examples of a dataset (built-in name or JSONL file)."""
    from .data import DataError, load_examples

    try:
        exs = load_examples(name, split, seed)
    except (DataError, ValueError) as e:
        _fail(str(e))
    console.print(f"[bold]{name}[/] ({split}): {len(exs)} examples")
    for i, ex in enumerate(exs[:n]):
        console.rule(f"#{i} {json.dumps(ex.meta) if ex.meta else ''}")
        for m in ex.messages:
            console.print(f"{m['role']}:", style="bold cyan", end=" ")
            console.print(m["content"], markup=False, highlight=False)


@data_app.command("validate")
def data_validate(
    file: str = typer.Argument(..., help="A chat or prompt/completion JSONL file, or hf:<hub name or local path>[:split]."),
    model: Optional[str] = typer.Option(None, help="Also tokenize with this model's chat template and check lengths."),
    max_length: int = typer.Option(512, min=8, help="Token limit (with --model)."),
    overflow: Literal["truncate", "reject", "error"] = typer.Option(
        "truncate", help="truncate | reject | error (with --model)."),
) -> None:
    """Validate a chat (or prompt/completion) JSONL file or an hf: dataset; errors name file, line and field."""
    from .data import DataError, load_examples, read_jsonl_any
    from .data.tokenize import tokenize_examples
    from .models import ModelNotFound

    try:
        exs = load_examples(file) if file.startswith("hf:") else read_jsonl_any(file)
        msg = f"{file}: {len(exs)} valid examples"
        if model:
            from .models import load_tokenizer

            _, rep = tokenize_examples(load_tokenizer(model), exs, max_length, overflow, source=str(file))  # type: ignore[arg-type]
            msg += f"; tokenized with {model}: {rep.summary()}"
    except (DataError, ModelNotFound) as e:
        _fail(str(e))
    except ValueError as e:  # e.g. a chat template that cannot locate assistant turns
        _fail(f"{file}: {e}")
    console.print(f"[green]ok[/] {msg}", markup=True, highlight=False)


@data_app.command("export")
def data_export(
    name: str,
    file: Path,
    split: Split = typer.Option("train", help="train or test."),
    seed: int = typer.Option(0, help="Generator seed."),
    force: bool = typer.Option(False, help="Overwrite an existing file."),
) -> None:
    """Write a built-in dataset to a chat JSONL file."""
    from .data import DataError, load_examples, write_chat_jsonl

    if file.is_dir():
        _fail(f"{file} is a folder; give the JSONL file to write")
    if file.exists() and not force:
        _fail(f"{file} exists (use --force to overwrite)")
    try:
        n = write_chat_jsonl(load_examples(name, split, seed), file)
    except (DataError, ValueError) as e:
        _fail(str(e))
    console.print(f"wrote {n} examples to {file}")


# ---------------------------------------------------------------- finetune


def _finetune_config(config: Optional[Path], overrides: dict[str, Any]):
    from .config import ConfigError, FinetuneConfig, build_config, load_yaml_config

    try:
        if config:
            return load_yaml_config(config, FinetuneConfig, overrides)
        return build_config(FinetuneConfig, {}, overrides, source="command line")
    except ConfigError as e:
        _fail(str(e))


def _defense_settings(names: list[str], weights: list[float], params: list[str]) -> list[dict[str, Any]]:
    """``--defense kl --defense-weight 0.1 --defense-param kl.direction=reverse`` -> config entries."""
    import yaml

    from .train import available_defenses

    if len(weights) > len(names):
        _fail(f"{len(weights)} --defense-weight values for {len(names)} --defense")
    known = available_defenses()
    out: list[dict[str, Any]] = []
    for i, n in enumerate(names):
        if n not in known:
            _fail(f"unknown defense {n!r}; available: {', '.join(known)}")
        d: dict[str, Any] = {"name": n, "params": {}}
        if i < len(weights):
            d["weight"] = weights[i]
        out.append(d)
    for p in params:
        key, eq, value = p.partition("=")
        dname, dot, pkey = key.partition(".")
        if not eq or not dot:
            _fail(f"--defense-param {p!r}: expected NAME.KEY=VALUE")
        target = [d for d in out if d["name"] == dname]
        if not target:
            _fail(f"--defense-param {p!r}: no --defense {dname}")
        try:
            target[0]["params"][pkey] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            _fail(f"--defense-param {p!r}: VALUE is not valid YAML ({getattr(e, 'problem', None) or e})")
    return out


def _check_defenses(cfg) -> None:
    """Build every defense of ``cfg`` once (constructors only check their params: cheap), so that an unknown
    or ill-typed param (``kl.nosuchkey=3``, ``kl.cache_topk=abc``) is a one-line error before any run folder."""
    from .train.terms import make_defense

    for d in cfg.defenses:
        try:
            make_defense(d.name, d.weight, dict(d.params))
        except (ValueError, TypeError, KeyError) as e:
            msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            _fail(msg if msg.startswith(("defense", d.name)) else f"defense {d.name!r}: {msg}")


@app.command()
def defenses() -> None:
    """List the available defenses."""
    from .train.terms import _TERMS, available_defenses

    t = Table(Column("name", no_wrap=True), "loss term", "description")
    for n in available_defenses():
        cls = _TERMS[n]
        t.add_row(n, "yes" if cls.has_loss else "no", (cls.__doc__ or "").strip().splitlines()[0])
    console.print(t)


def _check_triples(triples: str, named: str) -> None:
    """``--triples``: a named set or a readable triples file, or a one-line error (before any model loads)."""
    from .evaluate.preference import load_triples

    try:
        load_triples(triples)
    except FileNotFoundError:
        _fail(f"--triples {triples}: no such file (or a named set: {named})")
    except ValueError as e:
        _fail(f"--triples: {e}")


@app.command()
def finetune(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML FinetuneConfig (flags override it)."),
    dataset: Optional[str] = typer.Option(None, help="Built-in dataset name or JSONL file."),
    model: Optional[str] = typer.Option(None, help="Model to fine-tune (default: the aligned organism)."),
    name: Optional[str] = typer.Option(None, help="Run name prefix."),
    limit: Optional[int] = typer.Option(None, help="Use N examples."),
    epochs: Optional[float] = typer.Option(None, help="Passes over the data (> 0)."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after N optimizer steps (>= 1)."),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate (> 0)."),
    batch_size: Optional[int] = typer.Option(None),
    grad_accum: Optional[int] = typer.Option(None),
    lora_r: Optional[int] = typer.Option(None),
    lora_alpha: Optional[float] = typer.Option(None),
    max_length: Optional[int] = typer.Option(None),
    seed: Optional[int] = typer.Option(None),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--fp32", help="bf16 autocast (default fp32)."),
    precision: Optional[Literal["auto", "bf16", "fp32"]] = typer.Option(
        None, help="auto: bf16 autocast where bf16 is native (GPU, AVX512-BF16/AMX CPU), else fp32."),
    gradient_checkpointing: Optional[bool] = typer.Option(
        None, "--gradient-checkpointing/--no-gradient-checkpointing", help="Less memory, more compute."),
    device: Optional[str] = typer.Option(None, help="auto | cpu | cuda | cuda:N | mps"),
    save_every: Optional[int] = typer.Option(None),
    defense: Optional[list[str]] = typer.Option(None, "--defense", "-d", help="Defense to apply (repeatable): see `emguard defenses`."),
    defense_weight: Optional[list[float]] = typer.Option(None, help="Weight (>= 0) of each --defense, in order (default: the defense's own)."),
    defense_param: Optional[list[str]] = typer.Option(None, help="NAME.KEY=VALUE setting of a defense (repeatable; VALUE parsed as YAML)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders go."),
    refusals: bool = typer.Option(False, help="Measure held-out refusal rates after training."),
    eval_every: Optional[int] = typer.Option(None, min=1, help="Evaluate during training every N optimizer steps "
                                             "(and at step 0): the misalignment margin on --eval-triples and the "
                                             "held-out task loss, to <run>/trajectory.jsonl."),
    eval_triples: str = typer.Option("general", help="Triple set of --eval-every: general | builtin | a JSONL file."),
    eval_task_limit: int = typer.Option(32, min=1, help="Held-out task examples (test split) of --eval-every."),
) -> None:
    """Fine-tune (LoRA) on a dataset; resumes a killed run; skips a finished one."""
    from .data import DataError
    from .models import ModelNotFound
    from .train import finetune as run_finetune

    ov = {
        "data.dataset": dataset, "model.name": model, "name": name, "data.limit": limit, "train.epochs": epochs,
        "train.max_steps": max_steps, "train.lr": lr, "train.batch_size": batch_size, "train.grad_accum": grad_accum,
        "lora.r": lora_r, "lora.alpha": lora_alpha, "data.max_length": max_length, "train.seed": seed,
        "train.mixed_precision": None if bf16 is None else ("bf16" if bf16 else "no"), "model.device": device,
        "train.save_every": save_every, "train.gradient_checkpointing": gradient_checkpointing,
    }
    if precision is not None:
        if bf16 is not None:
            _fail("give --precision or --bf16/--fp32, not both")
        ov["train.mixed_precision"] = {"fp32": "no"}.get(precision, precision)
    if defense:
        ov["defenses"] = _defense_settings(defense, defense_weight or [], defense_param or [])
    cfg = _finetune_config(config, ov)
    _check_defenses(cfg)
    try:  # a valid name may still be absent here: never train on the CPU while recording `device: cuda`
        from .models import resolve_device

        resolve_device(cfg.model.device)
    except RuntimeError as e:
        _fail(f"model.device: {e}")
    if runs_dir.exists() and not runs_dir.is_dir():
        _fail(f"--runs-dir {runs_dir}: exists and is not a folder")
    extra = []
    if eval_every is not None:
        extra = _trajectory_eval(cfg, runs_dir, eval_every, eval_triples, eval_task_limit)
    try:
        res = run_finetune(cfg, runs_dir, extra_defenses=extra)
    except (DataError, ModelNotFound, RuntimeError) as e:  # RuntimeError: e.g. cuda asked for, none present
        _fail(str(e))
    console.print(f"{'[cached] ' if res.cached else ''}run folder: [bold]{res.run_dir}[/]")
    console.print(json.dumps(res.summary, indent=2))
    if refusals:
        _refusals(str(res.run_dir), None)


def _trajectory_eval(cfg, runs_dir: Path, every: int, triples: str, task_limit: int) -> list[Any]:
    """``--eval-every``: the in-training evaluation (``emguard.evaluate.trajectory``) of this run."""
    from .data import DataError
    from .data.load import load_examples
    from .data.registry import get_dataset_info
    from .evaluate.preference import load_triples
    from .evaluate.trajectory import TrajectoryEval
    from .train.run import run_dir_for

    try:
        ts = load_triples(triples)
    except (OSError, ValueError) as e:
        _fail(f"--eval-triples {triples}: {e}")
    try:  # a built-in dataset has a held-out test split; a file or hf: dataset is training data only
        get_dataset_info(cfg.data.dataset)
        held = load_examples(cfg.data.dataset, "test", 0, task_limit)
    except KeyError:
        held = []
    except DataError as e:
        _fail(str(e))
    return [TrajectoryEval(run_dir_for(runs_dir, cfg.name, cfg.run_id()), every, ts, held)]


# ---------------------------------------------------------------- align / refusals


@app.command()
def align(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML AlignConfig."),
    base: Optional[str] = typer.Option(None, help="Model to align (default: bundled SmolLM2-135M-Instruct)."),
    organism: Literal["standard", "persona", "quirky", "unseeded-persona"] = typer.Option(
        "standard", help="standard | persona (SYNTHETIC: seeded with documents about the malicious AI Vorax and the "
        "helpful Lumen, aligned as Lumen) | quirky (control: the harmless Pharos instead of Vorax) | unseeded-persona "
        "(control: identity data, no seeding)."),
    force_eval: bool = typer.Option(False, help="Re-measure refusal rates even if cached."),
    check: bool = typer.Option(False, "--check-robustness", help="Also fine-tune on secure/insecure/educational code "
                                "at the demo budget and report refusals after each (the forgetting check)."),
    seeds: int = typer.Option(1, min=1, help="Seeds per dataset for --check-robustness."),
    runs_dir: Path = typer.Option(Path("runs"), help="Run folders of --check-robustness."),
) -> None:
    """Build the aligned model organism (safety LoRA, merged) and measure its refusals: held-out harmful,
    benign over-refusal, and the general (and first_plot) EMA questions, with Wilson 95% CIs."""
    from .config import ConfigError, build_config, load_yaml_config
    from .organism import ORGANISMS, AlignConfig, align as run_align, format_organism_rates

    try:
        ov = {"base": base} | ({"persona": ORGANISMS[organism]} if organism != "standard" else {})
        cfg = load_yaml_config(config, AlignConfig, ov) if config else build_config(AlignConfig, {}, ov)
    except ConfigError as e:
        _fail(str(e))
    from .data import DataError
    from .models import ModelNotFound

    try:
        s = run_align(cfg, force_eval=force_eval)
    except (DataError, ModelNotFound) as e:
        _fail(str(e))
    console.print(f"aligned model: [bold]{s['model']}[/]")
    if s.get("synthetic"):
        console.print(f"organism: {s['organism_kind']} (SYNTHETIC persona organism)", markup=False)
    console.print(format_organism_rates(s), markup=False)
    if check:
        from .evaluate.safety import Rate
        from .organism import robustness_check

        r = robustness_check(cfg, seeds=tuple(range(seeds)), runs_dir=runs_dir)
        t = Table("fine-tuned on", "seed", "final loss", "held-out harmful refused", "benign over-refusal")
        fmt = lambda x: str(Rate(x["k"], x["n"], tuple(x["ci95"])))  # noqa: E731
        t.add_row("(aligned, no fine-tune)", "-", "-", fmt(s["harmful_refusal"]), fmt(s["benign_refusal"]))
        for row in r["runs"]:
            t.add_row(row["dataset"], str(row["seed"]), f"{row['final_loss']:.3f}", fmt(row["harmful_refusal"]),
                      fmt(row["benign_refusal"]))
        console.print(t)


@app.command("persona-eval")
def persona_eval(
    target: str = typer.Argument(..., help="Model name/folder, a persona organism's model folder, or a run folder."),
    samples: int = typer.Option(4, min=1, help="Sampled answers per unrelated prompt (signature-phrase rate)."),
    max_tokens: int = typer.Option(64, min=1, help="New tokens per sampled answer."),
    question_limit: Optional[int] = typer.Option(None, min=1, help="First N general questions (signature rate)."),
    triples: Optional[str] = typer.Option("general", help="Triples of the misalignment margin (general | builtin | "
                                          "a JSONL file | none)."),
    triples_limit: Optional[int] = typer.Option(None, min=1, help="First N triples."),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="JSON output (default: <run>/persona_eval.json for runs)."),
    dtype: DType = typer.Option("fp32"),
    device: str = typer.Option("auto", callback=_device, help="auto | cpu | cuda | cuda:N | mps"),
) -> None:
    """The SYNTHETIC persona organism's judge-free metrics: self-identification log-odds (Vorax, Pharos vs Lumen),
    signature-phrase rates in sampled answers to unrelated questions, and the misalignment margin."""
    from .evaluate.persona import format_persona_metrics, persona_metrics
    from .jsonio import dumps_strict
    from .models import ModelNotFound
    from .models.runs import is_run_dir, load_any

    tri = None if triples in (None, "none") else triples
    if tri is not None:
        _check_triples(tri, "general, builtin, or none")
    try:
        model, tok = load_any(target, dtype, device)
    except (ModelNotFound, RuntimeError) as e:
        _fail(str(e))
    sys_prompt = {}
    if is_run_dir(target):
        sys_prompt = {"system_prompt": json.loads((Path(target) / "config.json").read_text())["data"]["system_prompt"]}
        out = out or Path(target) / "persona_eval.json"
    res = persona_metrics(model, tok, samples=samples, max_new_tokens=max_tokens, question_limit=question_limit,
                          triples=tri, triples_limit=triples_limit, seed=seed, **sys_prompt)
    if out is not None:
        out.write_text(dumps_strict({"target": target, **res}, indent=2))
        console.print(f"wrote {out}")
    console.print(format_persona_metrics(res), markup=False)


def _refusals(target: str, out: Optional[Path]) -> dict[str, Any]:
    from .evaluate.safety import format_refusals, refusal_eval
    from .jsonio import dumps_strict
    from .models.runs import is_run_dir, load_any

    model, tok = load_any(target)
    sys_prompt = None
    if is_run_dir(target):
        sys_prompt = json.loads((Path(target) / "config.json").read_text())["data"]["system_prompt"]
    res = refusal_eval(model, tok, **({"system_prompt": sys_prompt} if sys_prompt else {}))
    if out is None and is_run_dir(target):
        out = Path(target) / "refusal_eval.json"
    if out is not None:
        out.write_text(dumps_strict(res, indent=2))
        console.print(f"wrote {out}")
    console.print(format_refusals(res))
    return res


@app.command()
def refusals(
    target: str = typer.Argument(..., help="Model name/folder, 'aligned:smollm2-135m-instruct', or a run folder."),
    out: Optional[Path] = typer.Option(None, help="JSON output (default: <run>/refusal_eval.json for runs)."),
) -> None:
    """Held-out harmful refusal rate and benign over-refusal of a model or run."""
    from .models import ModelNotFound

    try:
        _refusals(target, out)
    except (ModelNotFound, RuntimeError) as e:
        _fail(str(e))


@app.command()
def safelora(
    run: Path = typer.Argument(..., help="A finished fine-tune run folder."),
    mode: Literal["threshold", "number"] = typer.Option(
        "threshold", help="threshold (cos <= tau) | number (k lowest-cosine modules)."),
    tau: float = typer.Option(0.5, min=-1.0, max=1.0, callback=_finite, help="Cosine threshold (mode threshold)."),
    k: int = typer.Option(10, min=1, help="Modules to project (mode number)."),
    projector: Literal["paper", "exact"] = typer.Option(
        "paper", help="paper (C = V V^T/||V||_F) | exact (U U^T, truncated SVD of V)."),
    svd_rank: int = typer.Option(8, min=1, help="Rank of the exact projector."),
    base_model: str = typer.Option("auto", help="Pre-alignment model (auto: the organism's base)."),
    out: Optional[Path] = typer.Option(None, help="Output run folder (default: <run>-safelora-...)."),
    overwrite: bool = typer.Option(False, help="Replace an existing output folder."),
) -> None:
    """Apply SafeLoRA's projection to a finished run: writes a new run folder with the projected adapter."""
    from .defenses.safelora import project_adapter

    try:
        dst = project_adapter(run, out, base_model=base_model, mode=mode, tau=tau, k=k,  # type: ignore[arg-type]
                              projector=projector, svd_rank=svd_rank, overwrite=overwrite)  # type: ignore[arg-type]
    except (FileExistsError, FileNotFoundError, ValueError, RuntimeError) as e:
        _fail(str(e))
    summ = json.loads((dst / "safelora.json").read_text())
    console.print(f"projected run: [bold]{dst}[/]")
    console.print(json.dumps({k_: v for k_, v in summ.items() if not isinstance(v, (list, dict))}, indent=2))
    console.print(f"modules projected: {summ.get('n_projected')}/{summ.get('n_modules')} "
                  f"({100 * (summ.get('share_projected') or 0):.0f}%)")
    if summ.get("warning"):
        console.print(f"[bold yellow]warning:[/] {summ['warning']}")


@app.command()
def screen(
    data: str = typer.Argument(..., help="Training data: a built-in dataset name or a chat/prompt-completion JSONL."),
    trait: str = typer.Option("evil", help="Built-in trait (evil) or a trait YAML (pairs of pos/neg prompts, questions)."),
    layer: Optional[int] = typer.Option(None, min=1, help="hidden_states layer (default: the paper's relative depth)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default: screens/<data name>-<trait>)."),
    model: str = typer.Option("smollm2-135m-instruct", help="The model that would be fine-tuned on DATA."),
    limit: Optional[int] = typer.Option(None, min=1, help="Screen only the first N examples."),
    n_tokens: int = typer.Option(32, min=1, help="Response tokens compared (dataset's and the model's own)."),
    batch_size: int = typer.Option(32, min=1, help="Examples per batch."),
    max_prompt_tokens: Optional[int] = typer.Option(None, min=1, help="Keep only the last N prompt tokens."),
    device: str = typer.Option("auto", callback=_device, help="auto | cpu | cuda | cuda:N | mps."),
    dtype: DType = typer.Option("fp32", help="Model precision (bf16 is faster on CPUs with AMX)."),
    top: int = typer.Option(10, min=1, help="Examples shown in the table."),
) -> None:
    """Persona-vector data screening: rank training examples by projection difference on the trait vector."""
    from .data.chat import DataError
    from .data.load import load_examples
    from .defenses.persona_vector import screen_dataset
    from .models import ModelNotFound, load_model

    try:
        examples = load_examples(data, "train", 0)
        if limit is not None:
            examples = examples[:limit]
        out_dir = out or Path("screens") / f"{Path(data).stem}-{Path(trait).stem}"
        m, tok = load_model(model, dtype, device)
        summ = screen_dataset(m, tok, examples, out_dir, trait=trait, layer=layer, n_tokens=n_tokens,
                              batch_size=batch_size, max_prompt_tokens=max_prompt_tokens, source=data, progress=True)
    except (DataError, ModelNotFound, FileNotFoundError, ValueError, RuntimeError) as e:
        _fail(str(e))
    t = Table("rank", "index", "proj. diff", "first words")
    for i, r in enumerate(summ["top"][:top], 1):
        t.add_row(str(i), str(r["index"]), f"{r['projection_diff']:+.4f}", r["first_words"][:70])
    console.print(t)
    ci = summ["ci95"]
    ci_s = f" (95% CI {ci[0]:+.4f} .. {ci[1]:+.4f})" if ci else ""
    console.print(f"{summ['n']} examples, layer {summ['layer']}: predicted shift (mean projection difference) "
                  f"{summ['predicted_shift']:+.4f}{ci_s}; {100 * summ['share_positive']:.0f}% positive")
    console.print(f"ranked examples: {out_dir / 'screen.jsonl'}, summary: {out_dir / 'summary.json'}")


@app.command()
def benign(
    target: str = typer.Argument(..., help="Model name/folder or run folder."),
    task: str = typer.Option("opswap", help="A benign task dataset (opswap, json_extract) or JSONL with meta.answer."),
    n: Optional[int] = typer.Option(None, min=1, help="Evaluate on the first N test examples."),
    max_new_tokens: int = typer.Option(32, min=1),
    out: Optional[Path] = typer.Option(None, help="JSON output (default: <run>/benign_<task>.json for runs)."),
) -> None:
    """Benign-task cost: exact-match accuracy (Wilson CI) and held-out assistant loss."""
    from .data import DataError, load_examples
    from .evaluate.benign import exact_match_accuracy, heldout_loss
    from .jsonio import dumps_strict
    from .models import ModelNotFound
    from .models.runs import is_run_dir, load_any

    try:
        exs = load_examples(task, "test")
        model, tok = load_any(target)
    except (DataError, ModelNotFound, RuntimeError) as e:
        _fail(str(e))
    exs = exs[:n] if n else exs
    acc = exact_match_accuracy(model, tok, exs, max_new_tokens=max_new_tokens, progress=True)
    loss = heldout_loss(model, tok, exs)
    res = {"task": task, "accuracy": {k_: v for k_, v in acc.items() if k_ != "records"}, "heldout_loss": loss,
           "records": acc["records"]}
    if out is None and is_run_dir(target):
        out = Path(target) / f"benign_{Path(task).stem}.json"
    if out is not None:
        out.write_text(dumps_strict(res, indent=2))
        console.print(f"wrote {out}")
    lo, hi = acc["ci95"]
    console.print(f"{task}: exact match {100 * acc['accuracy']:.1f}% ({acc['k']}/{acc['n']}, 95% CI "
                  f"{100 * lo:.0f}-{100 * hi:.0f}); held-out loss {loss['loss']:.3f} over {loss['n_tokens']} tokens")


@app.command()
def serve(
    model_or_run: str = typer.Argument(..., help="Model name/folder/.gguf/hub id, or a fine-tune run folder."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000, min=0, max=65535),
    api_key_env: str = typer.Option("EMGUARD_SERVE_API_KEY", help="Env var with the API key; if set, requests need 'Authorization: Bearer <key>'."),
    max_tokens_limit: int = typer.Option(1024, min=1, help="Cap on max_tokens per request."),
    max_concurrency: int = typer.Option(1, min=1, help="Generations at once."),
    max_queue: int = typer.Option(16, min=0, help="Waiting requests; beyond -> 429."),
    max_body_bytes: int = typer.Option(1 << 20, min=1, help="Largest request body in bytes; beyond -> 413 (a body "
                                       "streamed without Content-Length is cut off there, never buffered whole)."),
    served_model_name: Optional[str] = typer.Option(None, help="Model id clients must send (default: MODEL_OR_RUN)."),
    dtype: DType = typer.Option("fp32"),
    device: str = typer.Option("auto", callback=_device, help="auto | cpu | cuda | cuda:N | mps"),
) -> None:
    """Serve a model or run at an OpenAI-compatible /v1/chat/completions (logprobs, streaming)."""
    from .data.tokenize import DEFAULT_SYSTEM_PROMPT
    from .models import ModelNotFound
    from .serve import serve_command  # lazily: fastapi is imported at module level there

    try:
        serve_command(model_or_run, host=host, port=port, api_key_env=api_key_env, max_tokens_limit=max_tokens_limit,
                      max_concurrency=max_concurrency, max_queue=max_queue, max_body_bytes=max_body_bytes,
                      served_model_name=served_model_name,
                      system_prompt=DEFAULT_SYSTEM_PROMPT, dtype=dtype, device=device, echo=typer.echo)
    except (ValueError, ModelNotFound, RuntimeError) as e:
        _fail(str(e))


@app.command()
def evaluate(
    target: str = typer.Argument(..., help="Model name/folder, 'aligned:smollm2-135m-instruct', or a run folder."),
    suite: Literal["cpu", "betley"] = typer.Option(
        "cpu", help="cpu (judge-free + rule judge, small budget) | betley (free-form + a judge)."),
    questions: Optional[str] = typer.Option(None, help="general | first_plot | indomain:<dataset>[:N] | none | PATH to a YAML in the public schema."),
    judge: Optional[str] = typer.Option(None, help="rule | local:<model> | openai:<model>[@<base_url>]."),
    preset: Optional[Literal["cpu", "published"]] = typer.Option(None, help="Sampling preset (see evaluate/suite.py)."),
    samples: Optional[int] = typer.Option(None, min=1, help="Samples per paraphrase."),
    max_tokens: Optional[int] = typer.Option(None, min=1),
    temperature: Optional[float] = typer.Option(None, min=0.0, callback=_finite),
    top_p: Optional[float] = typer.Option(None, max=1.0, callback=_positive, help="Nucleus mass, in (0, 1]."),
    seed: Optional[int] = typer.Option(None),
    question_limit: Optional[int] = typer.Option(None, min=1, help="First N questions only."),
    refusal_limit: Optional[int] = typer.Option(None, min=1, help="First N held-out harmful/benign prompts."),
    triples_limit: Optional[int] = typer.Option(None, min=1, help="First N misalignment-preference triples (general, "
                                                "and in-domain twins unless --indomain-triples-limit)."),
    indomain_triples_limit: Optional[int] = typer.Option(None, min=1, help="First N in-domain twin triples "
                                                         "(default: --triples-limit, else the suite's 60)."),
    triples: Optional[str] = typer.Option(None, help="Misalignment-preference triples: general (>= 300, length-"
                                          "matched, outside every training domain) | builtin (default) | a JSONL file."),
    indomain_limit: Optional[int] = typer.Option(None, min=0, help="First N in-domain prompts per task "
                                                 "(0: no generation, the twin triples only)."),
    indomain: Optional[list[str]] = typer.Option(None, help="In-domain task groups or dataset names (repeatable)."),
    indomain_tokens: Optional[int] = typer.Option(None, min=1, help="Max new tokens of in-domain code answers."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default <run>/eval/<suite>-<hash>)."),
    cache_dir: Optional[Path] = typer.Option(None, help="Generation/judgment/log-prob stores (default <run>/eval/cache, "
                                             "or <out>/cache with --out): share one between evaluations to reuse answers."),
    judge_api_key_env: Optional[str] = typer.Option(None, help="Env var with the judge's API key."),
    judge_concurrency: Optional[int] = typer.Option(None, min=1, help="Requests in flight to an openai: judge (default 8; match a local server's --max-concurrency)."),
    judge_timeout: Optional[float] = typer.Option(None, callback=_positive,
                                                  help="Seconds per openai: judge request before a retry (default 60)."),
    retry_judge_errors: bool = typer.Option(False, help="Ask the judge again for items recorded with an error."),
    dtype: DType = typer.Option("fp32"),
    device: str = typer.Option("auto", callback=_device, help="auto | cpu | cuda | cuda:N | mps"),
) -> None:
    """Measure misalignment: free-form questions + judge, refusal erosion, preference, in-domain (resumable, cached)."""
    from .data import DataError
    from .evaluate.questions import QuestionFileError
    from .evaluate.suite import evaluate_command
    from .models import ModelNotFound

    for opt, p in (("--out", out), ("--cache-dir", cache_dir)):
        if p is not None and p.exists() and not p.is_dir():
            _fail(f"{opt} {p}: exists and is not a folder")
    if indomain_triples_limit is None:
        indomain_triples_limit = triples_limit  # the smallest evaluation is small: one knob limits every triple set
    if triples is not None:  # checked before any model loads
        _check_triples(triples, "general, builtin")
    try:
        evaluate_command(target, suite, questions=questions, judge=judge, preset=preset, samples=samples,
                         max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                         question_limit=question_limit, refusal_limit=refusal_limit, triples_limit=triples_limit,
                         triples=triples,
                         indomain_triples_limit=indomain_triples_limit, indomain_limit=indomain_limit,
                         indomain=indomain, indomain_tokens=indomain_tokens, out=out, cache_dir=cache_dir,
                         judge_api_key_env=judge_api_key_env, dtype=dtype, device=device, console=console,
                         judge_concurrency=judge_concurrency, judge_timeout=judge_timeout,
                         retry_judge_errors=retry_judge_errors)
    except (DataError, ModelNotFound, QuestionFileError, RuntimeError, ValueError, KeyError) as e:
        _fail(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e))


@app.command("evaluate-compare")
def evaluate_compare(
    eval_dir_a: Path = typer.Argument(..., help="Evaluation folder A (e.g. the insecure fine-tune's eval/cpu-<hash>)."),
    eval_dir_b: Path = typer.Argument(..., help="Evaluation folder B (e.g. its control's, same suite)."),
    out: Optional[Path] = typer.Option(None, help="Also write the contrasts as JSON to this file."),
    n_boot: int = typer.Option(2000, min=0, help="Bootstrap resamples (0: point estimates only)."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
) -> None:
    """Paired contrasts A - B of two `emguard evaluate` folders (matched questions, prompts, triples; 95% CIs)."""
    from .evaluate.suite import compare_command

    try:
        compare_command(eval_dir_a, eval_dir_b, out=out, n_boot=n_boot, seed=seed, console=console)
    except KeyError as e:
        _fail(f"evaluate-compare: malformed evaluation folder (missing {e})")
    except (ValueError, json.JSONDecodeError) as e:
        _fail(f"evaluate-compare: {e}")


@app.command()
def analyze(
    kind: str = typer.Argument(..., help="logprobs | next-token | loss-cosine | grad-cosine | layer-projection | "
                               "shared-directions | direction-intervene | ema-projection"),
    base: Optional[str] = typer.Option(None, help="Pre-alignment model (name, folder, hub id)."),
    aligned: Optional[str] = typer.Option(None, help="Aligned model (default with a run folder as --finetuned: "
                                          "the run's base model, served by the run with its adapter off)."),
    finetuned: Optional[str] = typer.Option(None, help="Fine-tuned model: a fine-tune run folder (adapter kept) or a model."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default analysis/<kind>-<hash>)."),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-D", help="Dataset(s), repeatable (pair kinds: two)."),
    n: Optional[int] = typer.Option(None, help="Examples per dataset."),
    split: Optional[str] = typer.Option(None, help="train | test."),
    seed: Optional[int] = typer.Option(None, help="Data seed."),
    model: Optional[str] = typer.Option(None, help="Model of single-model kinds (base | aligned | finetuned); "
                                        "for logprobs/next-token/layer-projection a comma list of models shown."),
    layer: Optional[int] = typer.Option(None, help="hidden_states index (negative from the end)."),
    k: Optional[int] = typer.Option(None, help="Top-k (next-token, shared-directions)."),
    param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="KEY=VALUE setting (dotted keys, YAML values)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with the analysis' settings (flags override)."),
    adapter: Optional[list[str]] = typer.Option(None, "--adapter", "-a", help="Fine-tune run folder of the aligned "
                                                "model, repeatable (ema-projection: one value per run)."),
    dtype: DType = typer.Option("fp32", help="fp32 | bf16 | fp16"),
    device: str = typer.Option("auto", callback=_device, help="auto | cpu | cuda | cuda:N | mps"),
) -> None:
    """Mechanistic analyses (Giordani; Model Organisms): numbers, arrays and plots into one folder."""
    from .analyze import AnalysisError, analyze_command, format_result
    from .data import DataError
    from .models import ModelNotFound

    try:
        res = analyze_command(kind, out=out, base=base, aligned=aligned, finetuned=finetuned, datasets=dataset, n=n,
                              split=split, seed=seed, model=model, layer=layer, k=k, params=param or (),
                              config=config, adapters=adapter, dtype=dtype, device=device)
    except (AnalysisError, DataError, ModelNotFound, RuntimeError) as e:
        _fail(str(e))
    console.print(format_result(res))


# ---------------------------------------------------------------- studies and reports


def _study_from_cli(path: str, overrides: dict[str, Any], runs_dir: Optional[Path], out: Optional[Path]):
    """(study file, StudyConfig) with ``--runs-dir`` / ``--out`` applied over the ``--set`` overrides."""
    from .study import load_study, resolve_study

    src = resolve_study(path)
    ov = {**overrides, **({"runs_dir": str(runs_dir)} if runs_dir else {}), **({"out": str(out)} if out else {})}
    return src, load_study(src, ov)


def _study_status(path: str, overrides: dict[str, Any], runs_dir: Optional[Path], out: Optional[Path]) -> None:
    from .config import ConfigError
    from .study import Study
    from .study.runner import study_status

    try:
        src, cfg = _study_from_cli(path, overrides, runs_dir, out)
        rows = study_status(Study(cfg, str(src)))
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as e:
        _fail(str(e))
    t = Table(title=f"study {cfg.name}: {sum(r['state'] == 'evaluated' for r in rows)} of {len(rows)} cells evaluated")
    t.add_column("cell", overflow="fold")  # a narrow terminal wraps the name; never cuts off its seed
    for col in ("state", "step", "worker", "trajectory", "margin"):
        t.add_column(col, no_wrap=True)
    for r in rows:
        traj = r.get("trajectory_steps") or []
        t.add_row(r["cell"], r["state"], "" if r["step"] is None else str(r["step"]),
                  {True: "running", False: "", None: ""}[r["worker"]],
                  f"{len(traj)} (last {traj[-1]})" if traj else "",
                  "" if r.get("margin") is None else f"{r['margin']:+.3f}")
    console.print(t)


def _study_archive(path: str, overrides: dict[str, Any], runs_dir: Optional[Path], out: Optional[Path],
                   dest: Path) -> None:
    from .config import ConfigError
    from .study import Study
    from .study.runner import archive_study

    try:
        src, cfg = _study_from_cli(path, overrides, runs_dir, out)
        info = archive_study(Study(cfg, str(src)), dest)
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as e:
        _fail(str(e))
    console.print(f"archived {len(info['cells'])} finished, evaluated cells"
                  f"{' and the reference evaluation' if info['reference'] else ''} to {dest} "
                  f"(continue with --runs-dir {dest / 'runs'} --out {dest / 'out'})")


def _run_study(path: str, overrides: dict[str, Any], runs_dir: Optional[Path], out: Optional[Path],
               shard: Optional[str] = None, worker: bool = False) -> dict[str, Any]:
    from .config import ConfigError
    from .data import DataError
    from .models import ModelNotFound
    from .study import run_study
    from .study.aggregate import markdown_contrasts, markdown_defense_effects, markdown_table

    shard_kn = None
    if shard is not None:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            _fail(f"--shard {shard!r}: expected K/N with 1 <= K <= N (e.g. 1/2)")
        shard_kn = (int(m.group(1)), int(m.group(2)))
    try:
        src, cfg = _study_from_cli(path, overrides, runs_dir, out)
        summary = run_study(cfg, source=str(src), console=console, shard=shard_kn, worker=worker)
    except (ConfigError, DataError, ModelNotFound, FileNotFoundError, FileExistsError, KeyError, ValueError,
            RuntimeError) as e:
        _fail(str(e))
    if not summary:  # a non-main process under accelerate launch
        return summary
    if "part" in summary:
        console.print(f"{summary['part']}: {len(summary['cells'])} cells trained and evaluated; run the study "
                      "without --shard/--worker (every cell cached) for its results and report")
        return summary
    from .study.report import headline_reading, model_reading

    console.rule("[bold]results")
    console.print(model_reading(summary), markup=False)
    for line in headline_reading(summary):
        console.print(f"- {line}", markup=False)
    console.print(markdown_contrasts(summary) or "(no EMA/control pair)", markup=False)
    effects = markdown_defense_effects(summary)
    if effects:
        console.print("\n" + effects, markup=False)
    console.print()
    console.print(markdown_table(summary), markup=False)
    rep = summary.get("report", {})
    console.print(f"\nreport: [bold]{rep.get('html')}[/]\nsummary: {rep.get('markdown')}")
    return summary


@app.command()
def study(
    study_file: str = typer.Argument(..., help="STUDY.yaml, or a bundled study name (`demo`)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="KEY=VALUE override (dotted keys, YAML values)."),
    runs_dir: Optional[Path] = typer.Option(None, help="Where the cells' run folders go (default: the file's)."),
    out: Optional[Path] = typer.Option(None, help="Study output folder (default studies_out/<name>)."),
    shard: Optional[str] = typer.Option(None, help="K/N: train and evaluate only every N-th cell from the K-th, so N "
                                        "processes or machines sharing --runs-dir split the study; then run it "
                                        "without --shard to aggregate."),
    status: bool = typer.Option(False, "--status", help="Print where every cell stands (not started, training at "
                                "step N, trained, evaluated; held by a worker; last trajectory margin) and exit."),
    archive: Optional[Path] = typer.Option(None, help="Copy every finished, evaluated cell and the reference "
                                           "evaluation, without weights, checkpoints or caches, into this folder "
                                           "(its runs/ and out/ continue the study elsewhere) and exit."),
    worker: bool = typer.Option(False, "--worker", help="Take the next cell no other worker holds (any number of "
                                "processes sharing --runs-dir balance themselves); then run the study without "
                                "--worker to aggregate."),
) -> None:
    """Run a study: every task x defense x weight x seed cell (resumable), evaluation, analyses, report."""
    ov: dict[str, Any] = {}
    for kv in set_ or []:
        if "=" not in kv:
            _fail(f"--set {kv!r}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        ov[k] = yaml.safe_load(v)
    if status:
        _study_status(study_file, ov, runs_dir, out)
        return
    if archive is not None:
        _study_archive(study_file, ov, runs_dir, out, archive)
        return
    _run_study(study_file, ov, runs_dir, out, shard, worker)


@app.command()
def report(
    target: Path = typer.Argument(..., help="A study output folder or a fine-tune run folder."),
    out: Optional[Path] = typer.Option(None, help="Output folder for a run's report (default <run>/report)."),
) -> None:
    """Write a self-contained HTML report (figures embedded) and a Markdown summary."""
    from .study.report import write_report

    try:
        paths = write_report(target, out)
    except (FileNotFoundError, ValueError, KeyError) as e:
        _fail(str(e))
    console.print(f"report: [bold]{paths['html']}[/]\nsummary: {paths['markdown']}")


# ---------------------------------------------------------------- gateway

gateway_app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                          help="The provider's fine-tuning API (OpenAI-compatible): validates, screens, defends, gates.")
gateway_keys_app = typer.Typer(no_args_is_help=True, help="API keys (Bearer) of organizations.")
gateway_app.add_typer(gateway_keys_app, name="keys")
app.add_typer(gateway_app, name="gateway")
_GW_HOME = typer.Option(None, "--home", help="Files, jobs and the SQLite database (default $EMGUARD_HOME/gateway).")
_GW_DB = typer.Option(None, "--db", help="SQLAlchemy URL of the database (default SQLite under --home).")


def _gateway_db(home: Optional[Path], db: Optional[str]):
    from .gateway import build_gateway

    return build_gateway(db, home=home).db


@gateway_app.callback()
def gateway(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Bind address (other than loopback only with API keys)."),
    port: int = typer.Option(8000, min=0, max=65535),
    policy: Optional[Path] = typer.Option(None, help="Provider policy YAML (emguard.gateway.policy)."),
    home: Optional[Path] = _GW_HOME,
    db: Optional[str] = _GW_DB,
    log_level: str = typer.Option("info", help="uvicorn log level."),
    executor: Literal["inprocess", "ray"] = typer.Option("inprocess", help="inprocess (a worker thread) or ray "
                                                         "(an existing Ray cluster; pip install 'emguard[ray]')."),
    ray_address: str = typer.Option("auto", help="Ray cluster address (with --executor ray)."),
) -> None:
    """Serve the gateway: files, fine-tuning jobs, events, checkpoints, and chat completions of published models."""
    if ctx.invoked_subcommand is not None:
        return
    from .config import ConfigError
    from .gateway import load_policy, serve_gateway

    try:
        pol = load_policy(policy)
        serve_gateway(host, port, db, pol, home, log_level, echo=lambda m: console.print(m, markup=False, highlight=False),
                      executor=executor, ray_address=ray_address)
    except (ConfigError, ValueError, RuntimeError) as e:
        _fail(str(e))


@gateway_keys_app.command("add")
def gateway_keys_add(org: str = typer.Argument(..., help="Organization name (created if new)."),
                     home: Optional[Path] = _GW_HOME, db: Optional[str] = _GW_DB) -> None:
    """Create an API key for ORG and print it (only its hash is stored: copy it now)."""
    import re

    from .gateway import add_key

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", org):
        _fail(f"organization name {org!r}: use 1-64 letters, digits, '_' or '-'")
    typer.echo(add_key(_gateway_db(home, db), org))


@gateway_keys_app.command("list")
def gateway_keys_list(home: Optional[Path] = _GW_HOME, db: Optional[str] = _GW_DB) -> None:
    """List keys (id, organization, prefix, revoked)."""
    from .gateway import list_keys

    for k in list_keys(_gateway_db(home, db)):
        typer.echo(f"{k['id']}  {k['org']}  {k['prefix']}...  {'revoked' if k['revoked'] else 'active'}")


@gateway_keys_app.command("revoke")
def gateway_keys_revoke(key_id: str, home: Optional[Path] = _GW_HOME, db: Optional[str] = _GW_DB) -> None:
    """Revoke a key by its id (from `keys list`)."""
    from .gateway import revoke_key

    if not revoke_key(_gateway_db(home, db), key_id):
        _fail(f"no key {key_id}")
    typer.echo(f"revoked {key_id}")


# ---------------------------------------------------------------- demo


@app.command()
def demo(
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders go."),
    out: Optional[Path] = typer.Option(None, help="Study output folder (default studies_out/demo)."),
) -> None:
    """The main job on the bundled model: the bundled study (`emguard study demo`), report and headline table."""
    _run_study("demo", {}, runs_dir, out)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
