"""The plan of a profile: every step the study will run, resolved and validated before anything trains.

A profile resolves into one explicit list of steps, four stages per model-task pair::

    score     phase 1: one scoring run per phase-1 seed (R runs), on the full training set; and the
              scoring runs of each of the pair's ``variants`` (other phase-1 settings, ``variants/``)
    select    the H-scores and every subset, from the R runs' dynamics (milliseconds, no training)
    finetune  phase 2: the full set and every (method, subset) pair, once per phase-2 seed
    tables    the pair's current runs exported as tables (milliseconds)

Each step has an ``id`` (``minilm/rotten_tomatoes/phase2/hscore--remove-0-6--6666``), its folder
in the results store and the ids it depends on (``select`` needs the pair's R scoring runs, every
``finetune`` step needs ``select``, ``tables`` needs every run). The subsets' names follow from R
alone (``subset_family``), so the plan is complete before any result exists; a subset that turns
out empty is recorded as such by its step, not trained. ``select`` and ``tables`` are *derived*:
computed from other steps' results, they are recomputed whenever those change, never trained.

``build`` validates the whole profile first (strict types, every pair, the rules of each task's
kind, the model's position limit) and checks that the results folder can be written; any problem
is one ``HScoreError`` line. What each step's result depends on, and whether the one on disk is
current, is ``hscore.study.run``'s one definition; the tables read exactly the plan's current
runs (``hscore.study.results``).

This module imports no torch; the executors (``hscore.study.executors``) run the steps.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import config, paths
from ..config import ConfigError, PairConfig
from ..data import TaskSpec, get_task
from ..engine.checkpoints import max_positions
from ..engine.checkpoints import missing as checkpoint_missing
from ..engine.kinds import get_kind
from ..errors import DataUnavailableError, ResultsFolderError
from ..files import plain
from ..pruning.baselines import BASELINES
from ..pruning.label_issues import CLEANLAB_SUBSET
from ..pruning.subsets import nested_chain, subset_family

STAGES = ("score", "select", "finetune", "tables")
DERIVED = ("select", "tables")   # computed from other steps' results in milliseconds, recomputed when they change


def run_settings(cfg: PairConfig, phase: str, seed: int, **extra) -> dict:
    """Everything a fine-tuning run's result depends on that the configuration alone decides."""
    hp = dataclasses.asdict(cfg.phase1 if phase == "phase1" else cfg.phase2)
    del hp["seeds"]
    if phase == "phase1" and cfg.el2n_epoch is not None:   # absent when null: runs recorded before it stay current
        extra = {"el2n_epoch": cfg.el2n_epoch, **extra}
    task = get_task(cfg.task, cfg.declared)
    rules = get_kind(task.kind).scoring_rules(task.eval_options)
    if rules is not None:                                    # likewise: only where a kind's rules changed
        extra = {"scoring_rules": rules, **extra}
    # The engine is named only when it is not the built-in loop, so the runs made before the setting existed
    # keep their identity; switching engines makes a run stale either way.
    engine = {} if cfg.engine == "loop" else {"engine": cfg.engine}
    if cfg.stratified_cap:
        engine["stratified_cap"] = True
    return plain({"phase": phase, "checkpoint": cfg.checkpoint, "task": cfg.task, "max_length": cfg.max_length,
                   "doc_stride": cfg.doc_stride, "train_cap": cfg.train_cap, "eval_cap": cfg.eval_cap,
                   "data_seed": cfg.data_seed, "precision": cfg.precision, "padding_free": cfg.padding_free,
                   **engine, **hp, "seed": seed, **extra})


@dataclass(frozen=True)
class Step:
    """One step of the plan: a scoring run, a pair's selection, or a phase-2 fine-tuning run."""

    cfg: PairConfig
    stage: str                  # one of STAGES
    run: int | None = None      # score: the index r of the scoring run (its seed is phase1.seeds[r])
    method: str | None = None   # finetune: "full", "hscore" or a baseline
    subset: str | None = None   # finetune: "full" or a subset name (remove-0-6, ...)
    seed: int | None = None     # score and finetune: the run's seed
    variant: str | None = None  # score: the variant it scores (its cfg is the variant's), None for the pair's own
    fold: int | None = None     # score: the cross-validation fold k it holds out (``cleanlab_folds``), else None

    @property
    def pair(self) -> str:
        return self.cfg.pair

    @property
    def derived(self) -> bool:
        """Computed from other steps' results (``DERIVED``): recomputed when they change, never trained."""
        return self.stage in DERIVED

    @property
    def name(self) -> str:
        if self.stage == "score" and self.fold is not None:
            return f"crossval/fold-{self.fold}"
        if self.stage == "score":
            return f"phase1/run-{self.run}" if self.variant is None else f"variants/{self.variant}/run-{self.run}"
        if self.stage == "finetune":
            return "phase2/" + paths.phase2_folder_name(self.method, self.subset, self.seed)
        return self.stage

    @property
    def id(self) -> str:
        return f"{self.pair}/{self.name}"

    @property
    def folder(self) -> Path:
        """The step's folder in the results store."""
        pair = self.cfg.results_dir
        if self.stage == "score" and self.fold is not None:
            return paths.fold_run_dir(pair, self.fold)
        if self.stage == "score":
            return paths.phase1_run_dir(pair, self.run) if self.variant is None else \
                paths.variant_run_dir(pair, self.variant, self.run)
        if self.stage == "finetune":
            return paths.phase2_run_dir(pair, self.method, self.subset, self.seed)
        return paths.select_dir(pair) if self.stage == "select" else paths.tables_dir(pair)

    @property
    def deps(self) -> tuple[str, ...]:
        if self.stage == "select":
            return tuple(s.id for s in pair_steps(self.cfg) if s.stage == "score")
        if self.stage == "finetune":
            return (f"{self.pair}/select",)
        if self.stage == "tables":
            return tuple(s.id for s in pair_steps(self.cfg) if s.stage in ("score", "finetune"))
        return ()

    def settings(self) -> dict:
        """The configuration part of this step's identity (``run_settings`` for a fine-tuning run)."""
        cfg = self.cfg
        if self.stage == "score" and self.fold is not None:
            return run_settings(cfg, "phase1", self.seed, fold=self.fold, folds=cfg.cleanlab_folds)
        if self.stage == "score":
            return run_settings(cfg, "phase1", self.seed)
        if self.stage == "finetune":
            return run_settings(cfg, "phase2", self.seed, method=self.method, subset=self.subset,
                                score_unit=cfg.score_unit)
        if self.stage == "select":
            extra = {"moved_tickets": cfg.moved_tickets} if cfg.moved_tickets else {}
            extra |= {"class_floor": cfg.class_floor} if cfg.class_floor is not None else {}
            extra |= {"cleanlab_folds": cfg.cleanlab_folds} if cfg.cleanlab_folds else {}
            return plain({"score_unit": cfg.score_unit, "runs": cfg.runs, "baselines": cfg.baselines,
                          "phase2_seeds": cfg.phase2.seeds, "cheaper_ticket": cfg.cheaper_ticket, **extra})
        return {}

    def describe(self) -> str:
        if self.stage == "score" and self.fold is not None:
            return f"{self.pair} cross-validation fold {self.fold + 1}/{self.cfg.cleanlab_folds} (for cleanlab)"
        if self.stage == "score":
            of = "" if self.variant is None else f" of variant {self.variant}"
            return f"{self.pair} scoring run {self.run + 1}/{self.cfg.runs}{of} (seed {self.seed})"
        if self.stage == "select":
            return f"{self.pair} H-scores and subsets"
        if self.stage == "tables":
            return f"{self.pair} tables"
        return f"{self.pair} phase 2 {self.method} {self.subset} (seed {self.seed})"


def pair_steps(cfg: PairConfig) -> list[Step]:
    """The steps of one pair, in the order one process runs them."""
    scoring = cfg.scoring_config()
    steps = [Step(scoring, "score", run=r, seed=seed) for r, seed in enumerate(cfg.phase1.seeds)]
    for variant in cfg.variants:
        vcfg = cfg.variant_config(variant)
        steps += [Step(vcfg, "score", run=r, seed=seed, variant=variant.name)
                  for r, seed in enumerate(vcfg.phase1.seeds)]
    steps += [Step(scoring, "score", run=k, seed=cfg.phase1.seeds[0], fold=k)   # cleanlab's cross-validation
              for k in range(cfg.cleanlab_folds)]
    steps.append(Step(cfg, "select"))
    if cfg.phase2_full:   # else full data's figures are the scoring runs' (hscore.study.results)
        steps += [Step(cfg, "finetune", method="full", subset="full", seed=seed) for seed in cfg.phase2.seeds]
    for spec in cfg.phase2_specs:
        for method in ("hscore", *cfg.baselines):
            steps += [Step(cfg, "finetune", method=method, subset=spec.name, seed=seed) for seed in cfg.phase2.seeds]
    ticket = subset_family(cfg.runs)[0].name
    steps += [Step(cfg, "finetune", method="equal_steps", subset=ticket, seed=seed)
              for seed in cfg.phase2.seeds[:cfg.equal_steps]]   # the ticket for as many updates as full data
    for subset in small_subsets(cfg):
        for method in ("hscore", "random"):
            steps += [Step(cfg, "finetune", method=method, subset=subset, seed=seed)
                      for seed in cfg.phase2.seeds[:cfg.small_subsets.seeds]]
    if cfg.class_floor is not None:    # the ticket with each class restored to a fraction of its share
        steps += [Step(cfg, "finetune", method="floor", subset=ticket, seed=seed) for seed in cfg.phase2.seeds]
    if cfg.cleanlab_folds:              # full data minus the label issues cleanlab finds
        steps += [Step(cfg, "finetune", method="cleanlab", subset=CLEANLAB_SUBSET, seed=seed)
                  for seed in cfg.phase2.seeds]
    if cfg.cheaper_ticket is not None:  # the ticket of the cheapest scoring that overlaps it enough
        steps += [Step(cfg, "finetune", method="cheaper", subset=ticket, seed=seed) for seed in cfg.phase2.seeds]
    for subset in moved_subsets(cfg):   # the tickets of the variants that moved most, and the pair's own beside them
        steps += [Step(cfg, "finetune", method="moved", subset=subset, seed=seed) for seed in cfg.phase2.seeds]
    steps.append(Step(cfg, "tables"))
    return steps


def small_subsets(cfg: PairConfig) -> list[str]:
    """The subsets ``small_subsets`` may train: the nested chain below the ticket (H a..R-1, a >= 2) that
    phase 2 does not train anyway; which of them hold at most the share is known after scoring."""
    if cfg.small_subsets is None:
        return []
    trained = {s.name for s in cfg.phase2_specs}
    return [s.name for s in nested_chain(cfg.runs)[1:] if s.name not in trained]


def small_too_large(cfg: PairConfig, subsets, subset: str) -> str:
    """'' unless ``subset`` is one of ``small_subsets`` and its H-score subset (in ``subsets``, the pair's
    ``hscore.study.selection.Subsets``) holds more than the share of the training set; then why its steps
    (H-score and random alike) train nothing, and the chapter leaves it out."""
    if cfg.small_subsets is None or subset not in small_subsets(cfg):
        return ""
    size = len(subsets.positions("hscore", subset, 0))
    share = cfg.small_subsets.share
    if size <= share * subsets.n_full:
        return ""
    return f"{subset} holds {size} of {subsets.n_full} examples, more than small_subsets.share = {share:g}"


def moved_subsets(cfg: PairConfig) -> list[str]:
    """The phase-2 subsets of method ``moved``: ``base`` (the pair's ticket at the variants' run count),
    then ``top-1`` .. ``top-k``, the tickets of the ``moved_tickets`` variants that moved most."""
    return ["base", *(f"top-{k}" for k in range(1, cfg.moved_tickets + 1))] if cfg.moved_tickets else []


@dataclass(frozen=True)
class Plan:
    """Every step of a profile (or of some of its pairs), in dependency order."""

    profile: str
    configs: tuple[PairConfig, ...]
    steps: tuple[Step, ...]

    def stage(self, name: str) -> list[Step]:
        return [s for s in self.steps if s.stage == name]

    def of_pair(self, cfg: PairConfig) -> list[Step]:
        return [s for s in self.steps if s.pair == cfg.pair]

    def by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def counts(self) -> dict[str, int]:
        return {stage: len(self.stage(stage)) for stage in STAGES}

    def to_json(self) -> dict:
        return {"profile": self.profile, "pairs": [f"{c.model}/{c.task}" for c in self.configs],
                "configs": [c.to_dict() for c in self.configs],
                "steps": [{"id": s.id, "stage": s.stage, "deps": list(s.deps)} for s in self.steps]}


def build(profile: str, pairs: list[str] | None = None, study: dict | None = None, check_writable: bool = True,
          tasks: dict[str, TaskSpec] | None = None, listed: bool = True) -> Plan:
    """Resolve and validate a profile (or the pairs ``MODEL/TASK`` of it) into its plan.

    Every pair is resolved before anything runs, so a typo in the last pair fails first. With
    ``listed=False`` a pair named in ``pairs`` need not be one of the profile's (``hscore prune``
    on your own task); ``tasks``: declarations made outside the study file (``prune --file``)."""
    study = study or config.load_study()
    of_profile = config.pairs(profile, study)
    wanted = of_profile if not pairs else [config.parse_pair(p) for p in pairs]
    configs = [config.pair_config(profile, model, task, study) for model, task in of_profile]  # all of them
    configs = [c for c in configs if (c.model, c.task) in wanted] if pairs else configs
    for model, task in wanted:
        if (model, task) not in [(c.model, c.task) for c in configs]:  # names what is wrong with it, or
            configs.append(config.pair_config(profile, model, task, study, listed=listed, tasks=tasks))
    return from_configs(profile, configs, check_writable)


def from_configs(profile: str, configs: list[PairConfig], check_writable: bool = True) -> Plan:
    """The plan of these resolved pairs, after the checks every plan passes (``check``)."""
    for cfg in configs:
        check(cfg)
    if check_writable:
        writable(paths.profile_dir(profile))
    steps = tuple(s for cfg in configs for s in pair_steps(cfg))
    return Plan(profile, tuple(configs), steps)


def check(cfg: PairConfig) -> None:
    """What a pair's settings must satisfy beyond their types, each one ``ConfigError`` line: the
    rules of its task's kind, baselines that need logits where the kind keeps them, and a
    ``max_length`` the model's position embeddings cover."""
    where = f"profiles.{cfg.profile} ({cfg.pair})"
    kind = get_kind(get_task(cfg.task, cfg.declared).kind)
    kind.check(cfg)
    for name in cfg.baselines:
        baseline = BASELINES[name]
        unmet = baseline.unmet(kind.records_logits and cfg.score_unit != "example", cfg.el2n_epoch is not None,
                               cfg.phase1.epochs)
        if unmet == "logits":
            why = "per-example scoring has none" if kind.records_logits else f"the {kind.name} kind keeps none"
            raise ConfigError(f"{where}: baseline {name!r} ranks by recorded logits, and {why}; remove it from this "
                              "pair's baselines in study.yaml")
        if unmet == "eval_pass":
            raise ConfigError(f"{where}: baseline {name!r} ranks by an eval pass over the training set that the "
                              "scoring runs record only with el2n_epoch set; set el2n_epoch: 1 (the end of the first "
                              "epoch) in study.yaml, or remove the baseline")
        if unmet == "epochs":
            raise ConfigError(f"{where}: baseline {name!r} needs phase1.epochs >= {baseline.min_epochs} (its score "
                              f"has no value with {cfg.phase1.epochs}); raise the epochs or remove the baseline")
    rows_fixed = kind.name == "classification"   # one row per example, whatever the tokenizer and length
    if cfg.cleanlab_folds and (not rows_fixed or cfg.engine != "loop"):
        raise ConfigError(f"{where}: cleanlab_folds needs a classification task (one row, one label per example) "
                          "trained by the built-in loop (engine: loop); set cleanlab_folds: 0 in study.yaml")
    if cfg.scoring_checkpoint is not None and not rows_fixed:
        raise ConfigError(f"{where}: scoring_model needs a classification task (one training row per example for "
                          f"both models), not the {kind.name} kind; remove scoring_model in study.yaml")
    for variant in cfg.variants:
        if (variant.model is not None or variant.max_length is not None) and not rows_fixed:
            raise ConfigError(f"{where}: variant {variant.name!r} changes the model or max_length, which changes the "
                              f"training rows of the {kind.name} kind; vary other settings there")
        vcfg = cfg.variant_config(variant)
        if vcfg.checkpoint != cfg.scoring_config().checkpoint and max_positions(vcfg.checkpoint) is not None \
                and vcfg.max_length > max_positions(vcfg.checkpoint):
            raise ConfigError(f"{where}: variant {variant.name!r}: max_length = {vcfg.max_length} is longer than "
                              f"the {max_positions(vcfg.checkpoint)} positions of {vcfg.checkpoint}")
    if cfg.engine == "trainer" and cfg.equal_steps:
        raise ConfigError(f"{where}: equal_steps trains a subset for a set number of updates, which the built-in "
                          "loop does; set engine: loop, or equal_steps: 0, in study.yaml")
    if cfg.engine == "trainer" and importlib.util.find_spec("accelerate") is None:
        raise ConfigError(f"{where}: engine = 'trainer' trains through the Hugging Face Trainer, which needs "
                          "accelerate: pip install 'accelerate>=1.1' (or set engine: loop in study.yaml)")
    limit = max_positions(cfg.checkpoint)
    if limit is not None and cfg.max_length > limit:
        raise ConfigError(f"{where}: max_length = {cfg.max_length} is longer than the {limit} positions the model "
                          f"{cfg.checkpoint} has; set max_length to {limit} or less in study.yaml")


def missing_sources(plan: Plan) -> dict[str, list[str]]:
    """Each missing source of the plan's data and models once, with the pairs that need it
    (``{"needs ...": ["minilm/squad_dev", "minilm/social_iqa"]}``); empty when a cheap check finds
    them all (``Task.data_problem``, ``checkpoints.missing``: files here, packages installed, or the
    registry still serving what would be downloaded). Nothing is downloaded; Hub sources are not checked."""
    by_problem: dict[str, list[str]] = {}
    for cfg in plan.configs:
        task = get_task(cfg.task, cfg.declared)
        checkpoints = dict.fromkeys((cfg.scoring_config().checkpoint, cfg.checkpoint))
        for problem in (task.data_problem(), *(checkpoint_missing(c) for c in checkpoints)):
            if problem and cfg.pair not in by_problem.setdefault(problem, []):
                by_problem[problem].append(cfg.pair)
    return by_problem


def check_sources(plan: Plan) -> None:
    """One ``DataUnavailableError`` line naming every missing source once, before anything runs."""
    problems = missing_sources(plan)
    if problems:
        raise unavailable(problems, [c.pair for c in plan.configs])


def unavailable(problems: dict[str, list[str]], pairs: list[str]) -> DataUnavailableError:
    """The one line for pairs whose data cannot be had: each cause once, with the pairs it stops, and
    how to run the others."""
    others = len(set(pairs) - {pair for stopped in problems.values() for pair in stopped})
    return DataUnavailableError(" | ".join(f"{', '.join(stopped)}: {problem}" for problem, stopped in problems.items())
                                + "; nothing was run" + (f" (the {others} other pair(s) run alone with --pair "
                                                         "MODEL/TASK)" if others else ""))


def writable(folder: Path) -> Path:
    """``folder``, created if needed, after checking that a file can be written in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ResultsFolderError(
            f"the results folder {folder} cannot be written ({e.strerror or e}); make it writable or point "
            "HSCORE_RESULTS_DIR at a folder that is") from None
    return folder
