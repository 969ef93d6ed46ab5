"""The study configuration: ``study.yaml`` validated as a whole, resolved into frozen dataclasses.

A profile lists model-task pairs. Each pair's settings resolve as
``defaults <- profile.settings <- pair.settings`` (nested dictionaries merge key by key), and the
result is a ``PairConfig``: everything one model-task pair's study needs, and nothing else.
``PairConfig.to_dict()`` is what every result file stores beside its numbers. A pair whose task is
declared as data (``tasks:`` in ``study.yaml``, or ``hscore prune --file``) carries the parsed
declaration (``PairConfig.declared``), so it travels to worker processes and into every record.

Validation is strict and typed (pydantic validates the dataclasses below): ``batch_size: 2.5``,
``seeds: [1.5]``, ``epochs: true`` and ``lr: .inf`` are errors, never coerced. Every error is one
``ConfigError`` line naming where the value was written (``profiles.smoke.settings.phase1.lr``),
the value and what is expected. ``hscore.study.plan`` resolves every pair of a profile before anything
trains, so a typo in the last pair stops the study before the first run.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from . import paths
from .data import BUILTIN, TaskAlias, TaskSpec, parse_task
from .data.declared import MIN_TRAIN
from .errors import ConfigError, UnknownNameError
from .pruning.baselines import BASELINES
from .pruning.subsets import SubsetSpec, subset_family

PRECISIONS = ("fp16", "bf16", "fp32")
SCORE_UNITS = ("feature", "example")
ENGINES = ("loop", "trainer")   # who fine-tunes: hscore.engine.train's loop, or the Hugging Face Trainer

class SettingError(ConfigError):
    """One setting holds an invalid value (``field`` names it inside its dataclass)."""

    def __init__(self, field: str, value, expected: str):
        super().__init__(f"{field} = {value!r}: {expected}")
        self.field, self.value, self.expected = field, value, expected


def _check(ok: bool, field: str, value, expected: str) -> None:
    if not ok:
        raise SettingError(field, value, expected)


Real = Annotated[float, Strict(), AllowInfNan(False)]  # an int or a float, finite; never a string or a bool


@dataclass(frozen=True)
class PhaseConfig:
    """Fine-tuning hyperparameters of one phase: AdamW with linear warmup then linear decay to 0.

    The defaults are the Hugging Face Trainer's, which the official code uses for classification
    and SQuAD v2 (no warmup, no weight decay, gradient norm clipped at 1.0); RACE sets its own.
    """

    seeds: tuple[StrictInt, ...]  # phase 1: one scoring run per seed (R = len); phase 2: one run per seed
    epochs: StrictInt       # E: passes over the training set, in one fixed seeded order
    lr: Real                # peak learning rate
    batch_size: StrictInt   # rows per forward pass (micro-batch)
    grad_accum: StrictInt = 1     # micro-batches per optimizer update (RACE: 8); every micro-batch is recorded
    weight_decay: Real = 0.0
    adam_eps: Real = 1e-8
    adam_betas: tuple[Real, Real] = (0.9, 0.999)
    warmup_ratio: Real = 0.0   # warmup steps as a fraction of the run's own update count
    fixed_schedule: tuple[StrictInt, StrictInt] | None = None  # (warmup, total) updates, hard-coded (official RACE)
    max_grad_norm: Real = 1.0  # clip the gradient norm (after unscaling under fp16); 0 = no clipping

    def __post_init__(self):
        _check(len(self.seeds) > 0 and len(set(self.seeds)) == len(self.seeds), "seeds", list(self.seeds),
               "must be a non-empty list of distinct integers")
        for name in ("epochs", "batch_size", "grad_accum"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), "must be an integer >= 1")
        _check(self.lr > 0, "lr", self.lr, "must be a number with lr > 0")
        _check(0 <= self.warmup_ratio < 1, "warmup_ratio", self.warmup_ratio, "must be in [0, 1)")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "must be >= 0")
        _check(self.adam_eps > 0, "adam_eps", self.adam_eps, "must be > 0")
        _check(self.max_grad_norm >= 0, "max_grad_norm", self.max_grad_norm, "must be >= 0 (0 = no clipping)")
        _check(len(self.adam_betas) == 2 and all(0 <= b < 1 for b in self.adam_betas), "adam_betas",
               list(self.adam_betas), "must be two numbers in [0, 1)")
        _check(self.fixed_schedule is None or (len(self.fixed_schedule) == 2
                                                and 0 <= self.fixed_schedule[0] < self.fixed_schedule[1]),
               "fixed_schedule", self.fixed_schedule, "must be null or [warmup, total] updates with warmup < total")


@dataclass(frozen=True)
class Variant:
    """The same pair scored at another phase-1 setting, beside its own scoring runs (``variants:``):
    only what differs is written, the rest is the pair's. Its runs are recorded in
    ``variants/<name>/run-<r>/`` and compared with the pair's own scoring (``hscore.pruning.variants``);
    they are never the pair's H-scores."""

    name: StrictStr
    model: StrictStr | None = None           # another model id of study.yaml scores (its checkpoint)
    lr: Real | None = None                   # phase1.lr
    batch_size: StrictInt | None = None      # phase1.batch_size
    epochs: StrictInt | None = None          # phase1.epochs
    seeds: tuple[StrictInt, ...] | None = None  # phase1.seeds (default: the pair's)
    runs: StrictInt | None = None            # only the first ``runs`` of those seeds
    max_length: StrictInt | None = None
    padding_free: StrictBool | None = None
    checkpoint: StrictStr | None = None      # resolved from ``model`` when the study is read (not written)

    def __post_init__(self):
        paths.check_name(self.name, "variants: the name")
        _check(self.runs is None or self.runs >= 2, "runs", self.runs, "null, or at least 2 scoring runs")


@dataclass(frozen=True)
class SmallSubsets:
    """Phase 2 also trains the nested H-score subsets (H a..R-1, a = 2..R-1) that hold at most ``share``
    of the training set, each beside random subsets of its size, at the first ``seeds`` phase-2 seeds
    (``small_subsets:``; the ``scaling`` profile: does score-based pruning lose to random below 30%?).
    Which subsets are that small is known after scoring: the steps of the others record so, untrained."""

    share: Real
    seeds: StrictInt = 1

    def __post_init__(self):
        _check(0 < self.share < 1, "small_subsets.share", self.share, "must be a share of the training set in (0, 1)")
        _check(self.seeds >= 1, "small_subsets.seeds", self.seeds, "must be an integer >= 1")


@dataclass(frozen=True)
class PairConfig:
    """Everything the study of one model-task pair depends on."""

    profile: str
    model: str                    # model id in study.yaml
    checkpoint: str               # what models.load_model loads
    task: str                     # a built-in task (hscore.data.BUILTIN) or one declared as data
    max_length: StrictInt         # tokens per input (QA: per window; multiple choice: per option)
    doc_stride: StrictInt         # extractive QA: tokens shared by consecutive windows of a context
    score_unit: StrictStr         # "feature": H and pruning per row (window, option row), as the official
                                  # code; "example": per example (a question is right when all its rows are)
    train_cap: StrictInt | None   # None: the whole training split
    eval_cap: StrictInt | None    # None: every validation example
    data_seed: StrictInt          # seeds the caps (and the offline tasks' split)
    precision: StrictStr          # GPU precision; the CPU always trains in fp32
    require_gpu: StrictBool
    padding_free: StrictBool      # BERT-style encoders compute on real tokens only (hscore.engine.padding_free);
                                  # same numbers in eval, other dropout draws in training
    baselines: tuple[StrictStr, ...]  # size-matched baselines of phase 2
    phase2_subsets: tuple[StrictStr, ...] | None  # None: every H-score subset; else the names phase 2 trains
    cheaper_ticket: Real | None  # train the ticket of the cheapest (runs, epochs) overlapping this much
    phase1: PhaseConfig
    phase2: PhaseConfig
    declared: TaskSpec | TaskAlias | None = None  # the task's declaration when it is declared as data
                                  # (hscore.data.declared), or the built-in task whose data it names
    el2n_epoch: StrictInt | None = None  # record one eval-mode pass over the training rows at the end of this
                                  # phase-1 epoch (1-based) for EL2N as its authors score it; None = no pass
    variants: tuple[Variant, ...] = ()   # other phase-1 settings scored beside the pair's own (sensitivity)
    moved_tickets: StrictInt = 0  # phase 2 also trains the tickets of the variants that moved most (top-1 ..
                                  # top-k, lowest Jaccard with the pair's ticket at their run count) and the
                                  # pair's own ticket at that run count (base)
    scoring_model: StrictStr | None = None   # phase 1 scored by another model id of study.yaml (a small proxy);
                                             # phase 2 trains ``model`` on its subsets (transfer)
    scoring_checkpoint: StrictStr | None = None  # resolved from scoring_model when the study is read
    variant: StrictStr | None = None  # set on a variant's own configuration (its scoring runs), None otherwise
    engine: StrictStr = "loop"    # "loop": the built-in loop (hscore.engine.train); "trainer": the Hugging Face
                                  # Trainer with hscore's recorder (hscore.engine.trainer_route), same order,
                                  # seeds, optimiser, schedule and clipping; evaluation is the kind's either way
    stratified_cap: StrictBool = False  # the train_cap sample keeps each class's share (hscore.data.split.
                                  # stratified_order); either way the caps of one data_seed are nested
    phase2_full: StrictBool = True  # false: full data's phase-2 figures are the scoring runs' (the paper's own
                                  # full-data figures), which needs phase-2 settings equal to phase 1's but seeds
    equal_steps: StrictInt = 0    # the winning ticket also trained for as many optimizer updates as full data
                                  # (more epochs over fewer examples), at the first this-many phase-2 seeds
    small_subsets: SmallSubsets | None = None  # the nested subsets below a share, against random (SmallSubsets)
    class_floor: Real | None = None  # also the winning ticket with each class restored to at least this fraction of
                                  # its share (hscore.pruning.classes.class_floor), trained in phase 2 as ``floor``
    cleanlab_folds: StrictInt = 0  # K > 1: cleanlab's confident learning beside the H-score (the noise profile): K
                                  # cross-validation runs give out-of-sample probabilities, cleanlab flags label
                                  # issues, phase 2 trains full data minus them as ``cleanlab`` (0: none)

    def __post_init__(self):
        _check(self.engine in ENGINES, "engine", self.engine, f"must be one of {list(ENGINES)}")
        _check(self.precision in PRECISIONS, "precision", self.precision, f"must be one of {list(PRECISIONS)}")
        unknown = sorted(set(self.baselines) - set(BASELINES))
        _check(not unknown, "baselines", unknown, f"unknown baselines; known: {list(BASELINES)}")
        _check(len(set(self.baselines)) == len(self.baselines), "baselines", list(self.baselines),
               "each baseline once")
        _check(isinstance(self.require_gpu, bool), "require_gpu", self.require_gpu, "must be true or false")
        for name, least in (("train_cap", MIN_TRAIN), ("eval_cap", 1)):
            value = getattr(self, name)
            _check(value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= least), name,
                   value, f"must be null or an integer >= {least}"
                   + (" (fewer training examples measure nothing)" if least > 1 else ""))
        _check(self.max_length >= 8, "max_length", self.max_length, "must be at least 8")
        _check(self.doc_stride >= 0, "doc_stride", self.doc_stride, "must be >= 0")
        _check(self.score_unit in SCORE_UNITS, "score_unit", self.score_unit, f"must be one of {list(SCORE_UNITS)}")
        _check(len(self.phase1.seeds) >= 2, "phase1.seeds", list(self.phase1.seeds),
               "H-score subsets need at least 2 scoring runs")
        for what, name in (("profile", self.profile), ("model", self.model), ("task", self.task)):
            paths.check_name(name, what)
        if self.phase2_subsets is not None:
            names = [s.name for s in subset_family(self.runs)]
            _check(set(self.phase2_subsets) <= set(names) and names[0] in self.phase2_subsets, "phase2_subsets",
                   list(self.phase2_subsets), f"null, or names among {names} including the winning ticket {names[0]}")
        _check(self.el2n_epoch is None or 1 <= self.el2n_epoch <= self.phase1.epochs, "el2n_epoch", self.el2n_epoch,
               f"null, or the phase-1 epoch (1..{self.phase1.epochs}) after which the eval pass for EL2N runs")
        names = [v.name for v in self.variants]
        _check(len(set(names)) == len(names), "variants", names, "each variant name once")
        for v in self.variants:
            _check(v.runs is None or v.runs <= len(v.seeds or self.phase1.seeds), "variants", v.name,
                   "runs must not exceed the seeds it takes them from")
        _check(0 <= self.moved_tickets <= len(self.variants), "moved_tickets", self.moved_tickets,
               f"0 to the number of variants ({len(self.variants)})")
        _check(self.cheaper_ticket is None or 0 < self.cheaper_ticket <= 1, "cheaper_ticket", self.cheaper_ticket,
               "null, or the least Jaccard overlap (0 to 1] of a cheaper ticket with the winning ticket")
        _check(self.small_subsets is None or "random" in self.baselines, "baselines", list(self.baselines),
               "small_subsets compares each small subset with random subsets of its size: add random")
        _check(self.class_floor is None or 0 < self.class_floor <= 1, "class_floor", self.class_floor,
               "null, or the least fraction (0 to 1] of its share of the training set each class keeps in a subset")
        _check(self.cleanlab_folds == 0 or 2 <= self.cleanlab_folds <= 20, "cleanlab_folds", self.cleanlab_folds,
               "0 (none), or the cross-validation folds (2 to 20; cleanlab's default is 5)")
        seeds = len(self.phase2.seeds)
        _check(0 <= self.equal_steps <= seeds, "equal_steps", self.equal_steps, f"0 to the phase-2 seeds ({seeds})")
        _check(self.small_subsets is None or self.small_subsets.seeds <= seeds, "small_subsets.seeds",
               None if self.small_subsets is None else self.small_subsets.seeds, f"1 to the phase-2 seeds ({seeds})")
        differ = [f.name for f in dataclasses.fields(PhaseConfig)
                  if f.name != "seeds" and getattr(self.phase1, f.name) != getattr(self.phase2, f.name)]
        _check(self.phase2_full or not (differ or self.scoring_model), "phase2_full", self.phase2_full,
               "false takes full data's phase-2 figures from the scoring runs, which needs the phase-2 settings equal "
               f"to phase 1's but the seeds ({', '.join(differ) or 'scoring_model'} differ): set phase2_full: true")

    @property
    def runs(self) -> int:
        """R, the number of scoring runs."""
        return len(self.phase1.seeds)

    @property
    def phase2_specs(self) -> list[SubsetSpec]:
        """The H-score subsets phase 2 trains (``phase2_subsets``), the winning ticket first."""
        family = subset_family(self.runs)
        return family if self.phase2_subsets is None else [s for s in family if s.name in self.phase2_subsets]

    def scoring_config(self) -> PairConfig:
        """The configuration of the pair's own scoring runs: itself, or with the checkpoint of
        ``scoring_model`` (a proxy scores, the pair's model trains phase 2)."""
        if self.scoring_checkpoint is None:
            return self
        return dataclasses.replace(self, checkpoint=self.scoring_checkpoint, scoring_model=None,
                                   scoring_checkpoint=None)

    def variant_config(self, variant: Variant) -> PairConfig:
        """The configuration of a variant's scoring runs: the pair's scoring with the variant's settings."""
        base = self.scoring_config()
        seeds = tuple(variant.seeds or base.phase1.seeds)[:variant.runs]
        phase1 = dataclasses.replace(base.phase1, seeds=seeds, lr=base.phase1.lr if variant.lr is None else variant.lr,
                                     batch_size=variant.batch_size or base.phase1.batch_size,
                                     epochs=variant.epochs or base.phase1.epochs)
        return dataclasses.replace(
            base, checkpoint=variant.checkpoint or base.checkpoint, max_length=variant.max_length or base.max_length,
            padding_free=base.padding_free if variant.padding_free is None else variant.padding_free, phase1=phase1,
            variants=(), moved_tickets=0, variant=variant.name, el2n_epoch=None, baselines=(), phase2_subsets=None,
            cheaper_ticket=None)

    @property
    def results_dir(self) -> Path:
        return paths.pair_dir(self.profile, self.model, self.task)

    @property
    def pair(self) -> str:
        """``model/task``, as the command line and the tables name a pair."""
        return f"{self.model}/{self.task}"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(dataclasses.replace(self, declared=None))
        out["declared"] = None if self.declared is None else self.declared.model_dump(mode="json")
        return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ModelEntry(_Strict):
    checkpoint: str


class PairEntry(_Strict):
    model: str
    task: str
    settings: dict[str, Any] = Field(default_factory=dict)


class ClusterConfig(_Strict):
    """Slurm resources of one job (one fine-tuning run), for ``hscore run --executor slurm``."""

    partition: str | None = None    # None: the cluster's default partition
    account: str | None = None
    qos: str | None = None
    time_min: Annotated[int, Field(ge=1)] = 240     # per job; a pre-empted or timed-out job is requeued
    gpus_per_task: Annotated[int, Field(ge=0)] = 1
    cpus_per_task: Annotated[int, Field(ge=1)] = 8
    mem_gb: Annotated[int, Field(ge=1)] = 64
    max_parallel: Annotated[int, Field(ge=1)] = 32  # array tasks running at once
    setup: list[str] = Field(default_factory=list)  # shell lines before each job (module load, conda activate)


class ProfileEntry(_Strict):
    extends: str | None = None   # another profile: its settings, cluster and pairs, overridden by these
    description: str = ""
    offline: bool = False        # runs on a fresh machine with no Hub: its data and models ship in packages
                                 # (the test suite loads every offline profile's data from an empty data folder)
    settings: dict[str, Any] = Field(default_factory=dict)
    cluster: dict[str, Any] = Field(default_factory=dict)  # overrides of the study's cluster section
    pairs: Annotated[list[PairEntry], Field(min_length=1)] | None = None  # None: the extended profile's


class StudyFile(_Strict):
    """The shape of ``study.yaml``; settings are checked when a profile resolves (``pair_config``)."""

    models: dict[str, ModelEntry]
    defaults: dict[str, Any]
    profiles: Annotated[dict[str, ProfileEntry], Field(min_length=1)]
    cluster: dict[str, Any] = Field(default_factory=dict)
    tasks: dict[str, Any] = Field(default_factory=dict)   # tasks declared as data (hscore.data.declared)


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _one_line(error: ValidationError, where) -> ConfigError:
    """A pydantic error as one line per problem: where the value was written, the value, what is expected."""
    lines = []
    for err in error.errors():
        loc, msg, value = tuple(err["loc"]), err["msg"], err.get("input")
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, SettingError):  # a range check of __post_init__: point at the setting itself
            loc, msg, value = (*loc, *cause.field.split(".")), cause.expected, cause.value
        elif isinstance(cause, ConfigError):
            msg = str(cause)
        hint = ""
        if isinstance(value, str) and err["type"] == "float_type":
            hint = " (YAML reads 1e-4 as text: write 1.0e-4)"
        shown = "" if isinstance(value, dict) or err["type"] == "missing" else f" = {value!r}"
        lines.append(f"{where(loc)}{shown}: {msg}{hint}")
    return ConfigError("; ".join(lines))


def _merge(base: dict, override: dict | None, where: str, origin: dict) -> dict:
    """Merge ``override`` into a copy of ``base``; unknown keys are errors, not silent typos.
    ``origin`` maps each overridden key path to where it was written."""
    out = copy.deepcopy(base)
    if override is not None and not isinstance(override, dict):
        raise ConfigError(f"{where} must be a section (a mapping of settings), got {override!r}")
    for key, value in (override or {}).items():
        if key not in out:
            raise ConfigError(f"unknown setting {key!r} in {where}; known: {sorted(out)}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key} must be a section (a mapping of settings), got {value!r}")
            sub = {}
            out[key] = _merge(out[key], value, f"{where}.{key}", sub)
            origin.update({(key, *k): v for k, v in sub.items()})
        else:
            out[key] = value
            origin[(key,)] = f"{where}.{key}"
    return out


def load_study(path: Path | str | None = None) -> dict:
    """The raw study configuration, its shape checked (sections, pairs, model entries)."""
    path = Path(path or paths.study_file())
    try:
        with open(path) as f:
            study = yaml.safe_load(f)
    except OSError as e:
        raise ConfigError(f"cannot read the study configuration {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{at}: not valid YAML ({problem}); fix the file and run again") from None
    if not isinstance(study, dict):
        raise ConfigError(f"{path} must hold the sections models, defaults and profiles")
    for key in ("models", "defaults", "profiles"):
        if key not in study:
            raise ConfigError(f"{path} has no {key!r} section")
    try:
        StudyFile.model_validate(study)
    except ValidationError as e:
        raise _one_line(e, lambda loc: f"{path.name}: {_where(loc)}") from None
    for section in ("models", "profiles", "tasks"):
        for name in study.get(section) or {}:
            paths.check_name(name, f"{section}.{name}: the name")
    for name, raw in (study.get("tasks") or {}).items():
        if name in BUILTIN:
            raise ConfigError(f"tasks.{name}: a built-in task has this name; give yours another")
        parse_task(name, raw, path.parent)
    for name in study["profiles"]:
        _profile(study, name)   # extends chains resolve, every profile has pairs
        cluster_config(name, study)   # wrong types in a cluster section are one line now, not at submission
    return study


def profiles(study: dict | None = None) -> list[str]:
    return list((study or load_study())["profiles"])


def _chain(study: dict, profile: str) -> list[dict]:
    """(name, entry) of the profile and of the profiles it extends, the furthest ancestor first."""
    chain, name = [], profile
    while name is not None:
        if name not in study["profiles"]:
            known = ", ".join(study["profiles"])
            raise UnknownNameError(f"unknown profile {name!r}" + (f" (extended by {chain[-1][0]!r})" if chain else "")
                                   + f"; the study defines: {known}")
        if name in [n for n, _ in chain]:
            circle = " -> ".join(n for n, _ in chain)
            raise ConfigError(f"profiles.{profile}: `extends` goes round in a circle ({circle}"
                              f" -> {name})")
        chain.append((name, study["profiles"][name]))
        name = study["profiles"][name].get("extends")
    return list(reversed(chain))


def _profile(study: dict, profile: str) -> dict:
    """A profile with what it extends folded in: settings and cluster merged (its own win), its own
    pairs or else the extended profile's, its own description or else the extended one's."""
    chain = _chain(study, profile)
    out = {"description": "", "settings": {}, "cluster": {}, "pairs": None, "layers": []}
    for name, entry in chain:
        if entry.get("description"):
            out["description"] = entry["description"]
        elif entry.get("pairs") and out["description"]:   # its own pairs, another profile's words: say whose
            out["description"] = f"Its own pairs, with the settings of {chain[chain.index((name, entry)) - 1][0]}: " \
                                 + " ".join(out["description"].split())
        out["cluster"] = {**out["cluster"], **(entry.get("cluster") or {})}
        out["pairs"] = entry.get("pairs") or out["pairs"]
        out["layers"].append((name, entry.get("settings")))
    if not out["pairs"]:
        raise ConfigError(f"profiles.{profile} has no pairs (list them, or extend a profile that has)")
    return out


def pairs(profile: str, study: dict | None = None) -> list[tuple[str, str]]:
    """The (model, task) pairs of a profile, in the order the study runs them."""
    study = study or load_study()
    return [(p["model"], p["task"]) for p in _profile(study, profile)["pairs"]]


def describe(profile: str, study: dict | None = None) -> str:
    return _profile(study or load_study(), profile).get("description", "").strip()


def offline_profiles(study: dict | None = None) -> list[str]:
    """The profiles marked ``offline: true``: what the README calls offline, checked by the tests."""
    study = study or load_study()
    return [name for name, entry in study["profiles"].items() if (entry or {}).get("offline")]


def parse_pair(text: str) -> tuple[str, str]:
    """``"model/task"`` (as on the command line) into its two names."""
    model, sep, task = text.partition("/")
    if not sep or not model or not task or "/" in task:
        raise ConfigError(f"--pair {text!r}: write a pair as MODEL/TASK, e.g. minilm/rotten_tomatoes "
                          "(`hscore pairs --profile P` lists them)")
    return model, task


def declaration(task: str, study: dict, tasks: dict[str, TaskSpec] | None = None) -> TaskSpec | TaskAlias | None:
    """The parsed declaration of ``task`` (``tasks`` first, then the study's ``tasks:`` section),
    None for a built-in task; an unknown name is an ``UnknownNameError`` listing what exists."""
    if tasks and task in tasks:
        return tasks[task]
    declared = study.get("tasks") or {}
    if task in declared:
        return parse_task(task, declared[task], paths.study_file().parent)
    if task in BUILTIN:
        return None
    raise UnknownNameError(f"unknown task {task!r}; built in: {', '.join(BUILTIN)}"
                           + (f"; declared in study.yaml: {', '.join(declared)}" if declared else ""))


def pair_config(profile: str, model: str, task: str, study: dict | None = None, listed: bool = True,
                tasks: dict[str, TaskSpec] | None = None) -> PairConfig:
    """Resolve and validate the configuration of one model-task pair of a profile. With
    ``listed=False`` the pair need not be one of the profile's (``hscore prune`` on your own task):
    it gets the profile's settings, and its own where the profile lists it. ``tasks``: declarations
    made outside the study file (``hscore prune --file``)."""
    study = study or load_study()
    prof = _profile(study, profile)
    if model not in study["models"]:
        raise UnknownNameError(f"unknown model {model!r}; study.yaml defines: {', '.join(study['models'])}")
    declared = declaration(task, study, tasks)
    index, entry = next(((i, p) for i, p in enumerate(prof["pairs"]) if (p["model"], p["task"]) == (model, task)),
                        (None, None))
    if entry is None and listed:
        names = ", ".join(f"{m}/{t}" for m, t in pairs(profile, study))
        raise UnknownNameError(f"profile {profile!r} has no pair {model}/{task}; it has: {names}")
    origin: dict[tuple, str] = {}
    settings = study["defaults"]
    for name, layer in prof["layers"]:   # the extended profiles' settings first
        settings = _merge(settings, layer, f"profiles.{name}.settings", origin)
    if entry is not None:
        settings = _merge(settings, entry.get("settings"),
                          f"profiles.{profile}.pairs[{index}].settings ({model}/{task})", origin)

    def where(loc: tuple) -> str:
        for n in range(len(loc), 0, -1):  # the deepest key path some layer wrote
            if loc[:n] in origin:
                return origin[loc[:n]] + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[n:])
        return "defaults." + _where(loc) if loc else f"profiles.{profile} ({model}/{task})"

    def checkpoint_of(name, at):
        if isinstance(name, str) and name not in study["models"]:
            raise UnknownNameError(f"{at}: unknown model {name!r}; study.yaml defines: {', '.join(study['models'])}")
        return study["models"][name]["checkpoint"] if isinstance(name, str) else None

    fields = {"profile": profile, "model": model, "checkpoint": study["models"][model]["checkpoint"], "task": task,
              **settings, "declared": declared}
    if settings.get("scoring_model") is not None:   # a proxy model scores: its checkpoint, resolved here
        fields["scoring_checkpoint"] = checkpoint_of(settings["scoring_model"], where(("scoring_model",)))
    if isinstance(settings.get("variants"), list):
        fields["variants"] = [{**v, "checkpoint": checkpoint_of(v["model"], where(("variants", i, "model")))}
                              if isinstance(v, dict) and v.get("model") is not None else v
                              for i, v in enumerate(settings["variants"])]
    try:
        return _PAIR.validate_python(fields)
    except ValidationError as e:
        raise _one_line(e, where) from None


def profile_configs(profile: str, study: dict | None = None) -> list[PairConfig]:
    study = study or load_study()
    return [pair_config(profile, m, t, study) for m, t in pairs(profile, study)]


def cluster_config(profile: str, study: dict | None = None, **overrides) -> ClusterConfig:
    """Slurm resources: the study's ``cluster`` section <- the profile's <- ``overrides`` (not None)."""
    study = study or load_study()
    merged = {**study.get("cluster", {}), **_profile(study, profile).get("cluster", {}),
              **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return ClusterConfig.model_validate(merged)
    except ValidationError as e:
        raise _one_line(e, lambda loc: f"cluster.{_where(loc)}") from None


PhaseConfig.__pydantic_config__ = ConfigDict(extra="forbid")
Variant.__pydantic_config__ = ConfigDict(extra="forbid")
SmallSubsets.__pydantic_config__ = ConfigDict(extra="forbid")
PairConfig.__pydantic_config__ = ConfigDict(extra="forbid")
_PAIR = TypeAdapter(PairConfig)
