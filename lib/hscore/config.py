"""The study configuration: ``study.yaml`` resolved into frozen dataclasses.

A profile lists model-task pairs. Each pair's settings resolve as
``defaults <- profile.settings <- pair.settings`` (nested dictionaries merge key by key), and the
result is a ``PairConfig``: everything one model-task pair's study needs, and nothing else.
``PairConfig.to_dict()`` is what every result file stores beside its numbers.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .errors import ConfigError, UnknownNameError

PRECISIONS = ("fp16", "bf16", "fp32")
BASELINES = ("random", "ambiguous")
SCORE_UNITS = ("feature", "example")


@dataclass(frozen=True)
class PhaseConfig:
    """Fine-tuning hyperparameters of one phase: AdamW with linear warmup then linear decay to 0.

    The defaults are the Hugging Face Trainer's, which the official code uses for classification
    and SQuAD v2 (no warmup, no weight decay, gradient norm clipped at 1.0); RACE sets its own.
    """

    seeds: tuple[int, ...]  # phase 1: one scoring run per seed (R = len); phase 2: one run per seed
    epochs: int             # E: passes over the training set, in one fixed seeded order
    lr: float               # peak learning rate
    batch_size: int         # rows per forward pass (micro-batch)
    grad_accum: int = 1     # micro-batches per optimizer update (RACE: 8); every micro-batch is recorded
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    adam_betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = 0.0   # warmup steps as a fraction of the run's own update count
    fixed_schedule: tuple[int, int] | None = None  # (warmup, total) updates, hard-coded (the official RACE script)
    max_grad_norm: float = 1.0  # clip the gradient norm (after unscaling under fp16); 0 = no clipping

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be a non-empty list of distinct integers, got {list(self.seeds)}")
        if self.epochs < 1 or self.batch_size < 1 or self.grad_accum < 1 or not self.lr > 0:
            raise ConfigError(f"epochs, batch_size and grad_accum must be >= 1 and lr > 0, got {self}")
        if not (0 <= self.warmup_ratio < 1 and self.weight_decay >= 0 and self.adam_eps > 0
                and self.max_grad_norm >= 0 and all(0 <= b < 1 for b in self.adam_betas)
                and len(self.adam_betas) == 2):
            raise ConfigError(f"invalid optimizer settings: warmup_ratio in [0, 1), weight_decay >= 0, adam_eps > 0, "
                              f"max_grad_norm >= 0, two adam_betas in [0, 1); got {self}")
        if self.fixed_schedule is not None and not (len(self.fixed_schedule) == 2
                                                    and 0 <= self.fixed_schedule[0] < self.fixed_schedule[1]):
            raise ConfigError(f"fixed_schedule must be null or [warmup, total] updates with warmup < total, "
                              f"got {self.fixed_schedule}")


@dataclass(frozen=True)
class PairConfig:
    """Everything the study of one model-task pair depends on."""

    profile: str
    model: str                    # model id in study.yaml
    checkpoint: str               # what models.load_model loads
    task: str                     # task id in hscore.tasks.TASKS
    max_length: int               # tokens per input (QA: per window; multiple choice: per option)
    doc_stride: int               # extractive QA: tokens shared by consecutive windows of a context
    score_unit: str               # "feature": H and pruning per row (window, option row), as the official
                                  # code; "example": per example (a question is right when all its rows are)
    train_cap: int | None         # None: the whole training split
    eval_cap: int | None          # None: every validation example
    data_seed: int                # seeds the caps (and the offline tasks' split)
    precision: str                # GPU precision; the CPU always trains in fp32
    require_gpu: bool
    baselines: tuple[str, ...]    # size-matched baselines of phase 2
    phase1: PhaseConfig
    phase2: PhaseConfig

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        unknown = set(self.baselines) - set(BASELINES)
        if unknown:
            raise ConfigError(f"unknown baselines {sorted(unknown)}; known: {list(BASELINES)}")
        if not isinstance(self.require_gpu, bool):
            raise ConfigError(f"require_gpu must be true or false, got {self.require_gpu!r}")
        for name in ("train_cap", "eval_cap"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"{name} must be null or a positive integer, got {value}")
        if self.max_length < 8:
            raise ConfigError(f"max_length must be at least 8, got {self.max_length}")
        if self.doc_stride < 0:
            raise ConfigError(f"doc_stride must be >= 0, got {self.doc_stride}")
        if self.score_unit not in SCORE_UNITS:
            raise ConfigError(f"score_unit must be one of {SCORE_UNITS}, got {self.score_unit!r}")

    @property
    def runs(self) -> int:
        """R, the number of scoring runs."""
        return len(self.phase1.seeds)

    @property
    def results_dir(self) -> Path:
        return paths.pair_dir(self.profile, self.model, self.task)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _merge(base: dict, override: dict | None, where: str) -> dict:
    """Merge ``override`` into a copy of ``base``; unknown keys are errors, not silent typos."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if key not in out:
            raise ConfigError(f"unknown setting {key!r} in {where}; known: {sorted(out)}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key} must be a section (a mapping of settings), got {value!r}")
            out[key] = _merge(out[key], value, f"{where}.{key}")
        else:
            out[key] = value
    return out


def load_study(path: Path | str | None = None) -> dict:
    """The raw study configuration."""
    path = Path(path or paths.STUDY_FILE)
    with open(path) as f:
        study = yaml.safe_load(f)
    for key in ("models", "defaults", "profiles"):
        if key not in study:
            raise ConfigError(f"{path} has no {key!r} section")
    return study


def profiles(study: dict | None = None) -> list[str]:
    return list((study or load_study())["profiles"])


def _profile(study: dict, profile: str) -> dict:
    if profile not in study["profiles"]:
        raise UnknownNameError(f"unknown profile {profile!r}; the study defines: {', '.join(study['profiles'])}")
    return study["profiles"][profile]


def pairs(profile: str, study: dict | None = None) -> list[tuple[str, str]]:
    """The (model, task) pairs of a profile, in the order the study runs them."""
    study = study or load_study()
    return [(p["model"], p["task"]) for p in _profile(study, profile)["pairs"]]


def describe(profile: str, study: dict | None = None) -> str:
    return _profile(study or load_study(), profile).get("description", "").strip()


def pair_config(profile: str, model: str, task: str, study: dict | None = None) -> PairConfig:
    """Resolve the configuration of one model-task pair of a profile."""
    from .tasks import TASKS  # the registry validates task names

    study = study or load_study()
    prof = _profile(study, profile)
    if model not in study["models"]:
        raise UnknownNameError(f"unknown model {model!r}; study.yaml defines: {', '.join(study['models'])}")
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}; the registry has: {', '.join(TASKS)}")
    entry = next((p for p in prof["pairs"] if (p["model"], p["task"]) == (model, task)), None)
    if entry is None:
        listed = ", ".join(f"{m}/{t}" for m, t in pairs(profile, study))
        raise UnknownNameError(f"profile {profile!r} has no pair {model}/{task}; it has: {listed}")
    settings = _merge(study["defaults"], prof.get("settings"), f"profiles.{profile}.settings")
    settings = _merge(settings, entry.get("settings"), f"profiles.{profile}.pairs[{model}/{task}].settings")
    def phase(d: dict) -> PhaseConfig:
        if not isinstance(d["seeds"], list):
            raise ConfigError(f"seeds must be a list of integers, got {d['seeds']!r}")
        try:
            fixed = d["fixed_schedule"]
            return PhaseConfig(seeds=tuple(int(s) for s in d["seeds"]), epochs=int(d["epochs"]),
                               lr=float(d["lr"]), batch_size=int(d["batch_size"]), grad_accum=int(d["grad_accum"]),
                               weight_decay=float(d["weight_decay"]), adam_eps=float(d["adam_eps"]),
                               adam_betas=tuple(float(b) for b in d["adam_betas"]),
                               warmup_ratio=float(d["warmup_ratio"]),
                               fixed_schedule=None if fixed is None else tuple(int(x) for x in fixed),
                               max_grad_norm=float(d["max_grad_norm"]))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"invalid phase settings {d}: {e}") from e

    return PairConfig(
        profile=profile, model=model, checkpoint=study["models"][model]["checkpoint"], task=task,
        max_length=int(settings["max_length"]), doc_stride=int(settings["doc_stride"]),
        score_unit=settings["score_unit"], train_cap=settings["train_cap"], eval_cap=settings["eval_cap"],
        data_seed=int(settings["data_seed"]), precision=settings["precision"],
        require_gpu=settings["require_gpu"], baselines=tuple(settings["baselines"]),
        phase1=phase(settings["phase1"]), phase2=phase(settings["phase2"]),
    )


def profile_configs(profile: str, study: dict | None = None) -> list[PairConfig]:
    study = study or load_study()
    return [pair_config(profile, m, t, study) for m, t in pairs(profile, study)]
