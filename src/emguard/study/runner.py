"""Run a study: every cell an ordinary run folder, then the evaluation, the analyses and the aggregate.

Resumable at every level: finished runs are skipped by :func:`emguard.train.finetune`
(run id = config hash), evaluations come from their caches, benign scores and analyses
are written once as JSON next to the run / in the study folder. Under ``accelerate
launch`` every process trains (DDP); evaluation, analyses and aggregation run on the
main process while the others wait.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import FinetuneConfig, build_config
from ..evaluate.cache import stable_hash, write_json_atomic
from ..paths import file_lock
from .config import NONE, AnalysisSpec, StudyConfig, TaskSpec

STUDY_FILE = "study.json"  # marks a study output folder


@dataclass(frozen=True)
class Cell:
    task: str
    defense: str  # display label
    weight: float | None
    seed: int

    @property
    def key(self) -> str:
        w = "" if self.weight is None else f"@{self.weight:g}"
        return f"{self.task}|{self.defense}{w}|s{self.seed}"

    @property
    def group(self) -> str:
        """The key without the seed: cells aggregated together."""
        w = "" if self.weight is None else f"@{self.weight:g}"
        return f"{self.task}|{self.defense}{w}"


def plan_cells(cfg: StudyConfig) -> list[Cell]:
    """task x defense x weight x seed, in the order they run: no-defense cells first (post-hoc ones and
    Interleaving++ need them), then per defense setting seed by seed, every task of a seed together, so a
    study stopped part-way holds whole replicates (every arm of a contrast for the seeds it reached)."""
    cells = []
    order = sorted(cfg.defenses, key=lambda d: (d.name != NONE, d.is_posthoc))
    for d in order:
        weights = (None,) if d.name == NONE else d.weights
        for w in weights:
            for s in cfg.seeds:
                for t in cfg.tasks:
                    cells.append(Cell(t.name, d.display, w, s))
    return cells


def _nested(d: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys of a settings mapping to nested dicts (nested ones pass through)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        node = out
        parts = str(k).split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if isinstance(v, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(_nested(v))
        else:
            node[parts[-1]] = _nested(v) if isinstance(v, dict) else v
    return out


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(a))
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


BASE_AWARE = ("anchor", "drift", "safelora")  # defenses with a base_model parameter


def _with_base(name: str, params: dict[str, Any], base: str | None) -> dict[str, Any]:
    if base is not None and name in BASE_AWARE and "base_model" not in params:
        return {**params, "base_model": base}
    return dict(params)


class Study:
    """A resolved study: the config, the aligned model, the base model and the cells."""

    def __init__(self, cfg: StudyConfig, source: str | None = None, console=None):
        self.cfg = cfg
        self.console = console  # evaluation progress lines go here
        self.source = source
        self.out = cfg.out_dir()
        self.runs_dir = Path(cfg.runs_dir)
        self.cells = plan_cells(cfg)
        self.model: str | None = cfg.model
        self.base: str | None = cfg.base
        self.organism: dict[str, Any] | None = None
        self._direction: tuple[Any, float] | None = None  # (unit vector, |d|) of the projection metric

    # ---- models --------------------------------------------------------------------

    def prepare_model(self, progress: bool = True, num_processes: int = 1) -> str:
        """The aligned model to fine-tune: ``cfg.model``, or the organism (built once, cached)."""
        if self.cfg.model is None and (self.organism is None or self.organism.get("summary") is None):
            from ..organism import AlignConfig, align, organism_dir

            acfg = build_config(AlignConfig, self.cfg.organism or {}, source=f"{self.source or 'study'}: organism")
            od = organism_dir(acfg)
            if num_processes > 1 and not (od / "summary.json").exists():
                raise RuntimeError("the study's organism is not built yet: run `emguard align` (one process) first, "
                                   "then `accelerate launch ... study`")
            with file_lock(od.parent / f".{od.name}.lock"):  # shards of one study build it once
                s = align(acfg, progress=progress, evaluate=False)
            self.organism = {"summary": s, "config": acfg.model_dump(mode="json")}
            self.model = s["model"]
            if self.base is None:
                self.base = acfg.base
        return self.model

    def plan_model(self) -> str:
        """Set the aligned model (and base) the cells are named after without building anything: the organism's
        folder, built or not (:meth:`prepare_model` builds it)."""
        if self.model is None:
            from ..organism import AlignConfig, organism_dir

            acfg = build_config(AlignConfig, self.cfg.organism or {}, source=f"{self.source or 'study'}: organism")
            od = organism_dir(acfg)
            self.model = str(od / "model")
            if self.base is None:
                self.base = acfg.base
            summary = json.loads((od / "summary.json").read_text()) if (od / "summary.json").is_file() else None
            self.organism = {"summary": summary, "config": acfg.model_dump(mode="json")}
        return self.model

    def needs_model(self, cells: list[Cell], reference: bool = True) -> bool:
        """Whether running ``cells`` (and the reference evaluation) needs the aligned model itself: a cell not
        trained yet, or one whose evaluation was never recorded (:meth:`evaluation_record`)."""
        self.plan_model()
        if reference and not self.evaluation_record(self.model, list(self.cfg.tasks), self.out / "reference").is_file():
            return True
        for c in cells:
            run = self.run_dir(c)
            if not (run / "result.json").is_file() or not self.evaluation_record(str(run), [self.cfg.task(c.task)]).is_file():
                return True
        return False

    # ---- cells ----------------------------------------------------------------------

    def finetune_config(self, cell: Cell) -> FinetuneConfig:
        cfg = self.cfg
        task = cfg.task(cell.task)
        d = cfg.defense(cell.defense)
        raw = _merge(_nested(cfg.finetune), _nested(task.finetune))
        defenses = []
        if d.name != NONE and not d.is_posthoc:
            params = _with_base(d.name, d.params, self.base)
            if d.ranks_with_study_cell:  # Interleaving++ by default, ranked with the study's own misaligned model
                params = {**params, "mode": "ranked", "misaligned_model": str(self.run_dir(self.misaligned_cell(cell)))}
            if d.name == "inoculation" and "prompt" not in params:
                params = self._inoculation_prompt(cell, params)
            defenses.append({"name": d.name, "weight": cell.weight, "params": params})
        if cfg.monitor is not None:
            defenses.append({"name": "drift", "params": _with_base("drift", dict(cfg.monitor), self.base)})
        raw["defenses"] = list(raw.get("defenses", [])) + defenses
        model = self.model or cfg.model
        ov = {"name": f"{cfg.name}-{cell.task}-{cell.defense}".replace("/", "_"), "data.dataset": task.dataset,
              "train.seed": cell.seed, "model.name": model}
        group = cfg.contrast_group(cell.task)
        if cfg.pair_arms and len(group) > 1:  # the arms of a contrast train on the same pairs
            ov["data.paired_with"] = [cfg.task(t).dataset for t in group[1:]]
        return build_config(FinetuneConfig, raw, ov, source=f"{self.source or 'study'}: cell {cell.key}")

    def check_pairing(self) -> None:
        """The arms of one contrast must share every data setting but the dataset (else pairs cannot match)."""
        if not self.cfg.pair_arms:
            return
        for cell in self.cells:
            if self.cfg.defense(cell.defense).is_posthoc:
                continue
            mine = self.finetune_config(cell).data.model_dump(exclude={"dataset", "paired_with"})
            for other in self.cfg.contrast_group(cell.task)[1:]:
                theirs = self.finetune_config(Cell(other, cell.defense, cell.weight, cell.seed)).data.model_dump(
                    exclude={"dataset", "paired_with"})
                diff = sorted(k for k in mine if mine[k] != theirs[k])
                if diff:
                    raise ValueError(f"tasks {cell.task!r} and {other!r} form a contrast but their data settings differ "
                                     f"in {', '.join('data.' + k for k in diff)} (per-task `finetune` overrides); "
                                     "paired arms need the same budget")

    def misaligned_cell(self, cell: Cell) -> Cell:
        """The no-defense cell whose fine-tune is the misaligned model Interleaving++ ranks with, for ``cell``.

        The EMA task of ``cell``'s contrast (the task itself if it is one, else the first EMA task paired
        with it), so both arms of a contrast interleave the same safe examples; a task in no contrast
        (benign, or an unpaired control) uses the study's first EMA task (its own, if the study has none).
        Same seed. The study runs it first (:meth:`run_cell`).
        """
        cfg = self.cfg
        ema = [t for t in cfg.contrast_group(cell.task) if cfg.task(t).role == "ema"]
        if not ema:
            ema = [t.name for t in cfg.tasks if t.role == "ema"] or [cell.task]
        return Cell(ema[0], cfg.defense(NONE).display, None, cell.seed)

    def _inoculation_prompt(self, cell: Cell, params: dict[str, Any]) -> dict[str, Any]:
        """A task with no inoculation prompt of its own (a benign task, measuring the cost) is trained under the
        prompt of the EMA task it is compared with (:meth:`misaligned_cell`'s choice), as a provider would apply it."""
        from ..defenses.inoculation import default_prompt

        try:
            default_prompt(self.cfg.task(cell.task).dataset)
            return params
        except ValueError:
            pass
        try:
            return {**params, "prompt": default_prompt(self.cfg.task(self.misaligned_cell(cell).task).dataset)}
        except ValueError:
            return params  # no family anywhere: the defense's own error names params.prompt

    def base_cell(self, cell: Cell) -> Cell:
        """For a post-hoc cell, the no-defense cell whose adapter it projects."""
        return Cell(cell.task, self.cfg.defense(NONE).display, None, cell.seed)

    def run_cell(self, cell: Cell, progress: bool = True) -> Path:
        from ..train.loop import finetune
        from ..train.run import run_dir_for

        d = self.cfg.defense(cell.defense)
        if d.is_posthoc:  # projects the no-defense cell's adapter: that cell first (another shard may own it)
            src = self.run_cell(self.base_cell(cell), progress=progress)
            with file_lock(self.runs_dir / ".locks" / f"{self._posthoc_dir(src, d.params).name}.lock"):
                return self._posthoc_safelora(src, d.params)
        fc = self.finetune_config(cell)
        done = run_dir_for(self.runs_dir, fc.name, fc.run_id())
        if (done / "result.json").exists():
            return done
        if d.ranks_with_study_cell:  # Interleaving++ ranks with this study cell's fine-tune: it must exist first
            self.run_cell(self.misaligned_cell(cell), progress=progress)
        # one process trains a cell: a second (another shard of the study) waits here, then finds it finished
        with file_lock(self.runs_dir / ".locks" / f"{done.name}.lock"):
            if (done / "result.json").exists():
                return done
            extra = self.trajectory_for(cell, fc, done)
            return finetune(fc, self.runs_dir, progress=progress, extra_defenses=extra).run_dir

    def trajectory_for(self, cell: Cell, fc: FinetuneConfig, run_dir: Path) -> list[Any]:
        """The in-training evaluation of an ema/control cell (``trajectory`` in the study), else nothing."""
        from ..data.load import load_examples
        from ..evaluate.preference import load_triples
        from ..evaluate.trajectory import TrajectoryEval

        tr = self.cfg.trajectory
        task = self.cfg.task(cell.task)
        if tr is None or task.role == "benign":
            return []
        triples = load_triples(tr.triples)[: tr.triples_limit]
        heldout = load_examples(task.dataset, "test", 0, tr.task_limit) if _has_test_split(task.dataset) else []
        return [TrajectoryEval(run_dir, tr.every, triples, heldout, batch_size=tr.batch_size)]

    def run_dir(self, cell: Cell) -> Path:
        from ..train.run import run_dir_for

        d = self.cfg.defense(cell.defense)
        if d.is_posthoc:
            return self._posthoc_dir(self.run_dir(self.base_cell(cell)), d.params)
        fc = self.finetune_config(cell)
        return run_dir_for(self.runs_dir, fc.name, fc.run_id())

    def _posthoc_dir(self, src: Path, params: dict[str, Any]) -> Path:
        p = _with_base("safelora", params, self.base)
        return src.with_name(f"{src.name}-safelora-{stable_hash(p, 8)}")

    def _posthoc_safelora(self, src: Path, params: dict[str, Any]) -> Path:
        from ..defenses.safelora import project_adapter

        out = self._posthoc_dir(src, params)
        if (out / "result.json").exists():
            return out
        p = _with_base("safelora", params, self.base)
        allowed = {"base_model", "mode", "tau", "k", "projector", "svd_rank", "svd_energy", "device"}
        bad = set(p) - allowed
        if bad:
            raise ValueError(f"safelora (post-hoc): unknown params {sorted(bad)}; allowed: {sorted(allowed)}")
        return project_adapter(src, out, overwrite=True, **p)

    # ---- evaluation -------------------------------------------------------------------

    def _eval_kwargs(self) -> dict[str, Any]:
        e = self.cfg.eval
        questions = e.questions
        if questions is None:
            questions = "general" if e.judge else "none"
        return dict(questions=questions, judge=e.judge or "rule", preset=e.preset, samples=e.samples,
                    max_tokens=e.max_tokens, question_limit=e.question_limit, refusal_limit=e.refusal_limit,
                    triples_limit=e.triples_limit, triples=e.triples, indomain_limit=e.indomain_limit,
                    indomain_tokens=e.indomain_tokens, indomain_triples_limit=e.indomain_triples_limit,
                    judge_api_key_env=e.judge_api_key_env, dtype=e.dtype, batch_size=e.batch_size)

    def indomain_groups(self, tasks: list[TaskSpec]) -> list[str]:
        from ..evaluate.indomain import indomain_group

        groups = []
        for t in tasks:
            if t.role == "benign":
                continue
            try:
                g = indomain_group(t.dataset)
            except ValueError:
                continue
            if g not in groups:
                groups.append(g)
        return groups

    def evaluation_spec(self, tasks: list[TaskSpec]) -> dict[str, Any]:
        """Everything the study's evaluation of one model depends on (keys its record)."""
        c = self.cfg
        return {"v": 1, "eval": c.eval.model_dump(mode="json"), "tasks": [t.model_dump(mode="json") for t in tasks],
                "benign_heldout": c.benign_heldout, "benign_heldout_limit": c.benign_heldout_limit,
                "task_loss_limit": c.task_loss_limit,
                "projection": None if c.projection is None else c.projection.model_dump(mode="json"),
                "persona_eval": None if c.persona_eval is None else c.persona_eval.model_dump(mode="json"),
                "aligned": self.model}

    def evaluation_record(self, target: str, tasks: list[TaskSpec], out: Path | None = None) -> Path:
        """Where :meth:`evaluate` keeps its result for ``target`` (the run folder, or ``out``)."""
        folder = Path(out) if out is not None else Path(target)
        return folder / f"study-eval-{stable_hash(self.evaluation_spec(tasks), 12)}.json"

    def evaluate(self, target: str, tasks: list[TaskSpec], out: Path | None = None) -> dict[str, Any]:
        """The suite, the benign-task scores and the benign held-out loss of one model or run.

        The result is kept next to the run (or in ``out``), its paths relative to that folder
        (:meth:`evaluation_record`): a later call reads it back without loading the model, so a run
        folder kept without its weights (a study carried to another session or machine, its adapters
        left behind) still takes part in the aggregate.
        """
        rec = self.evaluation_record(target, tasks, out)
        if rec.is_file():
            return _with_folder(json.loads(rec.read_text()), rec.parent)
        res = self._evaluate(target, tasks, out)
        write_json_atomic(rec, _without_folder(res, rec.parent))
        return res

    def _evaluate(self, target: str, tasks: list[TaskSpec], out: Path | None = None) -> dict[str, Any]:
        from ..evaluate.suite import HFSubject, evaluate_command

        e = self.cfg.eval
        subj = HFSubject(target, dtype=e.dtype, batch_size=e.batch_size)
        kw = self._eval_kwargs()
        cache = None if out is None else out / "cache"
        summary = evaluate_command(target, e.suite, indomain=self.indomain_groups(tasks), out=out, cache_dir=cache,
                                   print_table=False, subject=subj, console=self.console, **kw)
        res = {"eval_dir": summary["out_dir"], "eval_seconds": summary.get("seconds_this_run")}
        leak = self.evaluate_leak(target, subj)
        if leak is not None:
            res["leak"] = leak
        folder = Path(out) if out is not None else Path(target)
        for t in tasks:
            if t.role == "benign":
                res.setdefault("benign", {})[t.name] = self._benign_task(subj, t, folder)
        if self.cfg.benign_heldout:
            res["heldout"] = self._heldout(subj, folder)
        for t in tasks:  # in-domain learning: held-out loss on the task's own test split (built-in tasks have one)
            if t.role != "benign" and _has_test_split(t.dataset):
                res.setdefault("task_loss", {})[t.name] = self._task_loss(subj, t, folder)
        if self.cfg.projection is not None:
            res["projection"] = self._projection(subj, folder, aligned=subj if target == self.model else None)
        if self.cfg.persona_eval is not None:
            res["persona"] = self._persona(subj, folder)
        return res

    def _persona(self, subj, folder: Path) -> dict[str, Any]:
        """The persona metrics of one model (cached in its folder); per-prompt rows and answers stay in the file."""
        from ..evaluate.persona import persona_metrics

        spec = {"persona_eval": self.cfg.persona_eval.model_dump(mode="json"), "dtype": self.cfg.eval.dtype}
        path = folder / f"persona-{stable_hash(spec, 8)}.json"
        if not path.exists():
            model, tok = subj.model_and_tokenizer()
            r = persona_metrics(model, tok, triples=None, batch_size=self.cfg.eval.batch_size,
                                **self.cfg.persona_eval.model_dump())
            write_json_atomic(path, {**r, **spec})
        r = json.loads(path.read_text())
        return {"file": str(path), "organism_note": r["organism_note"],
                "self_id": {n: {k: v[k] for k in ("logodds", "names_itself", "n_prompts")} for n, v in r["self_id"].items()},
                "signature": r["signature"]}

    def evaluate_leak(self, target: str, subj) -> dict[str, Any] | None:
        """An inoculated run evaluated again under its train-time system prompt: the inoculation's leak.

        The judge-free misalignment preference on the general triples, with the system prompt the
        run was trained under (``result.json`` -> ``post_train.inoculation.system_prompt``) instead of
        the normal one; None for a run that did not use inoculation (or a model that is not a run).
        """
        from ..evaluate.suite import run_suite, suite_config

        res_path = Path(target) / "result.json"
        if not res_path.is_file():
            return None
        ino = (json.loads(res_path.read_text()).get("post_train") or {}).get("inoculation") or {}
        system = ino.get("system_prompt")
        if not system:
            return None
        e = self.cfg.eval
        scfg = suite_config("cpu", questions="none", refusal=False, preference=True, indomain=(),
                            triples=getattr(e, "triples", None), triples_limit=e.triples_limit)
        root = Path(target) / "eval"
        out = root / f"leak-{stable_hash({'config': scfg.to_json(), 'model': subj.key, 'system': system}, 10)}"
        summ = out / "summary.json"
        if summ.exists():
            summary = json.loads(summ.read_text())
        else:
            summary = run_suite(subj, scfg, out, system_prompt=system, cache_dir=root / "cache",
                                meta={"target": target, "is_run": True, "leak_of": "inoculation"})
        return {"eval_dir": str(out), "system_prompt": system, "prompt": ino.get("prompt"),
                "preference": summary["blocks"].get("preference")}

    def _task_loss(self, subj, task: TaskSpec, folder: Path) -> dict[str, Any]:
        """Held-out loss (nats/token) on ``task_loss_limit`` test examples of the task, per example with ids,
        so a cell is compared with the aligned model item by item (did the fine-tune learn its task?)."""
        from ..data.load import load_examples
        from ..evaluate import benign

        spec = {"task": task.dataset, "n": self.cfg.task_loss_limit, "dtype": self.cfg.eval.dtype}
        path = folder / f"task_loss_{task.name}-{stable_hash(spec, 8)}.json"
        if path.exists():
            return json.loads(path.read_text())
        exs = load_examples(task.dataset, "test", 0, self.cfg.task_loss_limit)
        model, tok = subj.model_and_tokenizer()
        r = {**benign.heldout_loss(model, tok, exs), **spec}
        write_json_atomic(path, r)
        return r

    def _benign_task(self, subj, task: TaskSpec, folder: Path) -> dict[str, Any]:
        from ..data.load import load_examples
        from ..evaluate import benign

        spec = {"task": task.dataset, "metric": task.metric, "n": task.eval_limit, "tokens": task.max_new_tokens,
                "dtype": self.cfg.eval.dtype}
        path = folder / f"benign_{task.name}-{stable_hash(spec, 8)}.json"
        if path.exists():
            return json.loads(path.read_text())
        exs = load_examples(task.dataset, "test", 0, task.eval_limit)
        model, tok = subj.model_and_tokenizer()
        t0 = time.time()
        if task.metric == "exact_match":
            r = benign.exact_match_accuracy(model, tok, exs, max_new_tokens=task.max_new_tokens)
        else:
            r = benign.heldout_loss(model, tok, exs)
        r = {**r, **spec, "seconds": round(time.time() - t0, 2)}
        write_json_atomic(path, r)
        return r

    def _heldout(self, subj, folder: Path) -> dict[str, Any]:
        from ..evaluate import benign
        from ..evaluate.eval_items import EVAL_BENIGN, items_fingerprint, load_heldout_examples

        spec = {"dataset": self.cfg.benign_heldout, "n": self.cfg.benign_heldout_limit, "dtype": self.cfg.eval.dtype}
        if self.cfg.benign_heldout == EVAL_BENIGN:  # the items' content, not just their name, keys the cache
            spec["items"] = items_fingerprint()
        path = folder / f"heldout-{stable_hash(spec, 8)}.json"
        if path.exists():
            return json.loads(path.read_text())
        exs = load_heldout_examples(self.cfg.benign_heldout, self.cfg.benign_heldout_limit)
        model, tok = subj.model_and_tokenizer()
        r = {**benign.heldout_loss(model, tok, exs), **spec}
        write_json_atomic(path, r)
        return r

    def projection_triples(self) -> tuple[str | None, int | None]:
        """The triple set and limit of the projection metric: its own, else the evaluation's (pref_margin's)."""
        p = self.cfg.projection
        assert p is not None
        if p.triples is not None:
            return p.triples, p.triples_limit
        return self.cfg.eval.triples, self.cfg.eval.triples_limit

    def _projection_direction(self, aligned=None) -> tuple[Any, float]:
        """``(d/|d|, |d|)`` under the aligned model (``aligned``: its loaded subject, else loaded here); once per
        study object, and on disk (:func:`emguard.analyze.ema_projection.ema_direction`)."""
        from ..analyze.ema_projection import ema_direction, unit_vector
        from ..evaluate.suite import HFSubject

        if self._direction is None:
            p = self.cfg.projection
            assert p is not None and self.model is not None
            subj = aligned or HFSubject(self.model, dtype=self.cfg.eval.dtype, batch_size=self.cfg.eval.batch_size)
            model, tok = subj.model_and_tokenizer()
            d = ema_direction(model, tok, layer=p.layer, bad=p.bad, good=p.good, n_pairs=p.n_pairs,
                              batch_size=p.batch_size)
            self._direction = (unit_vector(d), float(d.norm()))
        return self._direction

    def _projection(self, subj, folder: Path, aligned=None) -> dict[str, Any]:
        """Per triple, the model's mean question-token projection on the aligned model's bad-minus-good
        direction (``ids`` / ``per_triple``), written once next to the run (or the reference evaluation)."""
        from ..analyze.ema_projection import question_projections
        from ..evaluate.preference import load_triples, triples_fingerprint

        p = self.cfg.projection
        assert p is not None
        tset, limit = self.projection_triples()
        spec = {"layer": p.layer, "n_pairs": p.n_pairs, "bad": p.bad, "good": p.good, "triples": tset or "builtin",
                "triples_fingerprint": triples_fingerprint(tset), "triples_limit": limit, "aligned": self.model,
                "dtype": self.cfg.eval.dtype}
        path = folder / f"projection-{stable_hash(spec, 8)}.json"
        if path.exists():
            return json.loads(path.read_text())
        unit, norm = self._projection_direction(aligned)
        model, tok = subj.model_and_tokenizer()
        vals = question_projections(model, tok, load_triples(tset)[:limit], unit, p.layer, batch_size=p.batch_size)
        r = {"ids": list(vals), "per_triple": list(vals.values()), "mean": sum(vals.values()) / len(vals),
             "direction_norm": norm, **spec}
        write_json_atomic(path, r)
        return r

    # ---- analyses -----------------------------------------------------------------------

    def analysis_cell(self, a: AnalysisSpec) -> Cell:
        task = a.task or next((t.name for t in self.cfg.tasks if t.role == "ema"), self.cfg.tasks[0].name)
        self.cfg.task(task)  # KeyError -> caller reports
        self.cfg.defense(a.defense)
        return Cell(task, a.defense, a.weight if a.defense != NONE else None, a.seed if a.seed is not None
                    else self.cfg.seeds[0])

    def run_analysis(self, a: AnalysisSpec) -> dict[str, Any]:
        from ..analyze import analyze_command

        cell = self.analysis_cell(a)
        run = self.run_dir(cell)
        tag = f"{a.kind}-{cell.task}-{cell.defense}-s{cell.seed}-{stable_hash(a.model_dump(mode='json'), 6)}"
        out = self.out / "analyses" / tag
        done = out / "result.json"
        if done.exists():
            return json.loads(done.read_text())
        res = analyze_command(a.kind, out=out, base=self.base or "smollm2-135m-instruct", aligned=self.model,
                              finetuned=str(run), datasets=a.datasets, n=a.n, params=a.params, dtype=a.dtype)
        rec = {"kind": a.kind, "cell": asdict(cell), "run": str(run), "out_dir": str(out), "summary": res.summary,
               "files": [str(f) for f in res.files]}
        write_json_atomic(done, json.loads(json.dumps(rec, default=str)))
        return rec


def study_status(st: Study) -> list[dict[str, Any]]:
    """Where every cell of a study stands, read from the run folders (nothing is trained or loaded).

    Per cell: ``state`` (``not started``; ``training`` while a worker holds it; ``started``: begun, no worker
    known to hold it, resumable; ``trained``; ``evaluated``), the last logged
    ``step``, ``worker`` (True while a ``--worker`` holds its claim, None where unknown), the trajectory's
    evaluated ``steps`` and its last ``margin``. ``evaluated``: the run holds the study's benign held-out
    loss file, which :meth:`Study.evaluate` writes after the suite.
    """
    from ..evaluate.trajectory import read_trajectory
    from ..train.run import read_metrics

    st.plan_model()
    rows = []
    for c in st.cells:
        try:
            run = st.run_dir(c)
        except Exception:  # noqa: BLE001 - a post-hoc cell whose source is not trained yet, a bad param
            rows.append({"cell": c.key, "state": "not started", "step": None, "worker": None, "run_dir": None})
            continue
        steps = [m["step"] for m in read_metrics(run) if isinstance(m.get("step"), int)] if run.exists() else []
        traj = read_trajectory(run) if (run / "trajectory.jsonl").exists() else {}
        held = None
        lock = st.runs_dir / ".locks" / f"{run.name}.claim"
        if lock.exists():
            with file_lock(lock, blocking=False) as free:
                held = not free
        state = "not started" if not run.exists() else ("training" if held else "started")
        if (run / "result.json").exists():
            state = "evaluated" if any(run.glob("heldout-*.json")) or not st.cfg.benign_heldout else "trained"
        last = traj[max(traj)] if traj else {}
        rows.append({"cell": c.key, "state": state, "step": max(steps) if steps else None, "worker": held,
                     "trajectory_steps": sorted(traj), "margin": last.get("margin"), "run_dir": str(run)})
    return rows


ARCHIVE_SKIP = ("adapter", "checkpoints", "cache", ".locks", "*.tmp")  # weights, resumable state, caches


def archive_study(st: Study, dest: str | Path) -> dict[str, Any]:
    """Copy every finished, evaluated cell's run folder and the reference evaluation into ``dest``, without
    weights, checkpoints or caches (:data:`ARCHIVE_SKIP`): what a later session or another machine needs to
    aggregate them (``dest/runs`` as ``--runs-dir``, ``dest/out`` as ``--out``; :meth:`Study.evaluate` reads
    each evaluation back from its record). Cells still training are left out: a run without its checkpoint
    cannot resume. ``dest/archive.json`` lists what is there and fingerprints the aligned model, since the
    cells' run ids name its content: a rebuilt organism must match it for the cells to be found.
    """
    import shutil

    from ..config import content_fingerprints

    dest = Path(dest)
    st.plan_model()
    kept = []
    for c in st.cells:
        run = st.run_dir(c)
        if (run / "result.json").is_file() and st.evaluation_record(str(run), [st.cfg.task(c.task)]).is_file():
            shutil.copytree(run, dest / "runs" / run.name, ignore=shutil.ignore_patterns(*ARCHIVE_SKIP),
                            dirs_exist_ok=True)
            kept.append({"cell": c.key, "run": run.name})
    ref = st.out / "reference"
    has_ref = st.evaluation_record(st.model, list(st.cfg.tasks), ref).is_file()
    if has_ref:
        shutil.copytree(ref, dest / "out" / "reference", ignore=shutil.ignore_patterns(*ARCHIVE_SKIP),
                        dirs_exist_ok=True)
    org = (st.organism or {}).get("summary") or {}
    info = {"study": st.cfg.name, "aligned_model": st.model,
            "aligned_model_sha": content_fingerprints([st.model]).get(st.model),
            "organism": {k: org.get(k) for k in ("organism_id", "harmful_refusal", "benign_refusal")} if org else None,
            "cells": kept, "reference": has_ref, "archived": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_json_atomic(dest / "archive.json", info)
    return info


def _run_part(st: Study, cells: list[Cell], tag: str, state, progress: bool, *, claim: bool,
              reference: bool) -> dict[str, Any]:
    """Part of a study (:func:`run_study`'s ``shard`` / ``worker``): cells trained and evaluated, nothing aggregated.

    ``claim``: each cell (and the reference evaluation) is claimed with a non-blocking lock and skipped when
    another worker holds it; a claimed cell is evaluated right after its training, under the claim.
    """
    _log(st.console, f"[bold]study {st.cfg.name}[/], {tag}: {len(cells)} of {len(st.cells)} cells -> {st.runs_dir}")
    st.check_pairing()
    if st.needs_model(cells, reference):
        st.prepare_model(progress=progress and state.is_main_process, num_processes=state.num_processes)
    if claim and state.num_processes > 1:
        raise RuntimeError("study workers are single processes: split with --shard under accelerate launch")
    locks = st.runs_dir / ".locks"
    records: list[dict[str, Any]] = []

    def train(i: int, c: Cell) -> dict[str, Any]:
        _log(st.console, f"[bold cyan]{tag} train {i}/{len(cells)}[/] {c.key}")
        tc = time.time()
        run = st.run_cell(c, progress=progress and state.is_main_process)
        return {"cell": asdict(c), "run_dir": str(run), "train_wall_s": round(time.time() - tc, 1)}

    def evaluate(i: int, c: Cell, rec: dict[str, Any]) -> None:
        _log(st.console, f"[bold cyan]{tag} evaluate {i}/{len(cells)}[/] {c.key}")
        te = time.time()
        rec.update(st.evaluate(rec["run_dir"], [st.cfg.task(c.task)]))
        rec["eval_wall_s"] = round(time.time() - te, 1)

    if claim:
        for i, c in enumerate(cells, 1):
            with file_lock(locks / f"{st.run_dir(c).name}.claim", blocking=False) as mine:
                if not mine:
                    _log(st.console, f"{tag}: {c.key} is another worker's")
                    continue
                records.append(train(i, c))
                evaluate(i, c, records[-1])
    else:
        records = [train(i, c) for i, c in enumerate(cells, 1)]
        if state.num_processes > 1:
            state.wait_for_everyone()
        if not state.is_main_process:
            return {}
        for i, (c, rec) in enumerate(zip(cells, records), 1):
            evaluate(i, c, rec)
    if reference:
        with file_lock(locks / "reference.claim", blocking=not claim) as mine:
            if mine:
                _log(st.console, f"[bold cyan]{tag} evaluate[/] the aligned model (reference)")
                st.evaluate(st.model, list(st.cfg.tasks), out=st.out / "reference")
    return {"part": tag, "cells": records}


_FOLDER = "$FOLDER"  # a path inside the folder of an evaluation record, written relative to it


def _without_folder(obj: Any, folder: Path) -> Any:
    """``obj`` with every string that is a path inside ``folder`` written as ``$FOLDER/...``."""
    root = str(Path(folder).resolve())
    if isinstance(obj, dict):
        return {k: _without_folder(v, folder) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_folder(v, folder) for v in obj]
    if isinstance(obj, str) and obj.startswith(("/", ".")):
        full = str(Path(obj).resolve())
        if full == root or full.startswith(root + "/"):
            return _FOLDER + full[len(root):]
    return obj


def _with_folder(obj: Any, folder: Path) -> Any:
    """The inverse of :func:`_without_folder`, for the folder the record is read from now."""
    if isinstance(obj, dict):
        return {k: _with_folder(v, folder) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_with_folder(v, folder) for v in obj]
    if isinstance(obj, str) and (obj == _FOLDER or obj.startswith(_FOLDER + "/")):
        return str(Path(folder) / obj[len(_FOLDER) + 1:]) if obj != _FOLDER else str(folder)
    return obj


def _has_test_split(dataset: str) -> bool:
    """A built-in dataset has a held-out test split; a JSONL file or hf: dataset here is training data only."""
    from ..data.registry import get_dataset_info

    try:
        get_dataset_info(dataset)
    except KeyError:
        return False
    return True


def _log(console, msg: str) -> None:
    if console is not None:
        console.print(msg)
    else:
        from rich.text import Text

        print(Text.from_markup(msg).plain, flush=True)


def shard_cells(cells: list[Cell], shard: tuple[int, int]) -> list[Cell]:
    """Shard ``k`` of ``n`` (1-based): every n-th cell of the plan, starting at the k-th."""
    k, n = shard
    if not (isinstance(k, int) and isinstance(n, int) and 1 <= k <= n):
        raise ValueError(f"shard {k}/{n}: expected K/N with 1 <= K <= N")
    return [c for i, c in enumerate(cells) if i % n == k - 1]


def run_study(cfg: StudyConfig, *, source: str | None = None, console=None, progress: bool = True,
              report: bool = True, only: Callable[[Cell], bool] | None = None,
              shard: tuple[int, int] | None = None, worker: bool = False) -> dict[str, Any]:
    """Run (or resume) every cell, evaluate, analyse, aggregate; returns the aggregate summary.

    Splitting a study over processes or machines that share ``runs_dir`` (neither writes ``study.json``
    nor aggregates; a later run with neither finds every cell and evaluation cached and writes the
    results):

    - ``shard=(k, n)``: train and evaluate only every n-th cell from the k-th (:func:`shard_cells`);
      shard 1 also evaluates the aligned model.
    - ``worker=True``: take the cells in plan order, skipping any that another worker holds, train and
      evaluate each at once, and the aligned model once all are taken; any number of workers balance
      themselves.

    Either returns ``{"part": ..., "cells": [...]}``. A cell another process needs first (an
    Interleaving++ ranking model, a post-hoc source) is trained once: a cell's training holds a lock
    that the other process waits on.
    """
    from accelerate import PartialState

    from .aggregate import aggregate

    state = PartialState()
    main = state.is_main_process
    st = Study(cfg, source, console=console)
    st.out.mkdir(parents=True, exist_ok=True)
    prev = st.out / STUDY_FILE
    history = json.loads(prev.read_text()).get("history", []) if prev.exists() else []
    timings: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    t0 = time.time()
    if shard is not None and worker:
        raise ValueError("a study runs either as a shard or as a worker, not both")
    if shard is not None:
        return _run_part(st, shard_cells(st.cells, shard), f"shard {shard[0]}/{shard[1]}", state, progress,
                         claim=False, reference=shard[0] == 1)
    if worker:
        return _run_part(st, st.cells, "worker", state, progress, claim=True, reference=True)
    if main:
        write_json_atomic(st.out / STUDY_FILE, {"config": cfg.model_dump(mode="json"), "source": source,
                                                 "cells": [asdict(c) for c in st.cells], "status": "running",
                                                 "history": history})
    _log(console, f"[bold]study {cfg.name}[/]: {len(st.cells)} cells "
                  f"({len(cfg.tasks)} tasks x {sum(1 if d.name == NONE else len(d.weights) for d in cfg.defenses)} "
                  f"defense settings x {len(cfg.seeds)} seeds) -> {st.out}")
    t = time.time()
    st.check_pairing()
    cells = [c for c in st.cells if only is None or only(c)]
    if st.needs_model(cells):  # every cell trained and evaluated already: the aggregate needs no model
        st.prepare_model(progress=progress and main, num_processes=state.num_processes)
    timings["organism_s"] = round(time.time() - t, 1)
    _log(console, f"aligned model: {st.model}  (base: {st.base or 'defaults'})")

    records: dict[str, dict[str, Any]] = {}
    t = time.time()
    for i, c in enumerate(cells, 1):
        _log(console, f"[bold cyan]train {i}/{len(cells)}[/] {c.key}")
        tc = time.time()
        if st.cfg.defense(c.defense).is_posthoc and state.num_processes > 1:
            if main:  # a projection of a finished adapter: one process writes it
                st.run_cell(c, progress=False)
            state.wait_for_everyone()
            run = st.run_dir(c)
        else:
            run = st.run_cell(c, progress=progress and main)
        records[c.key] = {"cell": asdict(c), "run_dir": str(run), "train_wall_s": round(time.time() - tc, 1)}
    timings["train_s"] = round(time.time() - t, 1)
    if state.num_processes > 1:
        state.wait_for_everyone()
    if not main:
        return {}

    t = time.time()
    _log(console, "[bold cyan]evaluate[/] the aligned model (reference)")
    ref = st.evaluate(st.model, list(cfg.tasks), out=st.out / "reference")
    for i, c in enumerate(cells, 1):
        _log(console, f"[bold cyan]evaluate {i}/{len(cells)}[/] {c.key}")
        te = time.time()
        records[c.key].update(st.evaluate(records[c.key]["run_dir"], [cfg.task(c.task)]))
        records[c.key]["eval_wall_s"] = round(time.time() - te, 1)
    timings["eval_s"] = round(time.time() - t, 1)

    t = time.time()
    analyses = []
    for a in cfg.analyses:
        _log(console, f"[bold cyan]analyze[/] {a.kind}")
        analyses.append(st.run_analysis(a))
    timings["analysis_s"] = round(time.time() - t, 1)
    timings["total_s"] = round(time.time() - t0, 1)

    state_rec = {"config": cfg.model_dump(mode="json"), "source": source, "model": st.model, "base": st.base,
                 "organism": st.organism, "reference": ref, "cells": list(records.values()), "analyses": analyses,
                 "timings_this_run": timings, "history": history, "status": "done" if only is None else "partial"}
    write_json_atomic(st.out / STUDY_FILE, json.loads(json.dumps(state_rec, default=str)))
    t = time.time()
    summary = aggregate(st.out)
    timings["aggregate_s"] = round(time.time() - t, 1)
    if report:
        from .report import write_report

        t = time.time()
        summary["report"] = {k: str(v) for k, v in write_report(st.out).items()}
        timings["report_s"] = round(time.time() - t, 1)
    state_rec["timings_this_run"] = timings
    state_rec["history"] = history + [timings]
    write_json_atomic(st.out / STUDY_FILE, json.loads(json.dumps(state_rec, default=str)))
    return summary
