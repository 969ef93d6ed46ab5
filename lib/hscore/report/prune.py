"""Prune your own data: phase 1 on one task, then what a user takes away, as files.

``hscore prune`` (and ``make prune``) builds the plan of one pair (``hscore.study.plan``), says its
size and an estimate of its time before anything trains, runs the scoring runs and the selection
(phase 2 too with ``--evaluate``) with the executor and ``--jobs`` asked for, resumable like the
study, and writes into ``results/<profile>/<model>/<task>/pruned/`` (or ``--out``), atomically:

- ``scores.parquet``: one row per training example, its original columns first (numbers as
  numbers), then ``label_id``, H, success rate, confidence, variability, correctness and every
  baseline's score (``hscore.pruning.scores``); a score whose name one of the file's columns
  already has is written as ``hscore_<name>``, and the report says so;
- ``winning_ticket.<ext>`` and ``<subset>.<ext>`` for every H-score subset (``remove-0-1-6`` ...):
  the kept rows of the training data with every original column, in the input's own format (CSV,
  TSV, JSON Lines or Parquet; Parquet for built-in and Hub tasks), readable by ``hscore prune``
  itself (texts quoted);
- ``report.md``: the label mapping, the H histogram, the subsets' sizes and label balance, which
  class falls below half its share (``hscore.pruning.classes``; ``hscore prune`` prints it too), what
  was done to the data, and with ``--evaluate`` the phase-2 table with bootstrap intervals
  (``hscore.analysis``).

A task whose scoring units are not whole examples (extractive QA windows, option rows) cannot be
written back as rows: that is one line before anything trains.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from .. import paths
from ..analysis.tables import comparison_table, tradeoff_table
from ..config import ConfigError, PairConfig
from ..data import BUILTIN, TaskSpec, get_task, pair_splits, parse_spec
from ..data.declared import EXTENSIONS, load_declared, write_table
from ..engine.checkpoints import model_config
from ..engine.kinds import get_kind
from ..files import atomic_write_bytes, atomic_write_parquet
from ..pruning.classes import UNDER_SHARE, class_balance
from ..pruning.scores import h_histogram
from ..study import executors
from ..study import plan as plans
from ..study.results import PairResults
from ..study.run import Board
from ..study.selection import Selection


def declare_file(path: str | Path, text: list[str], label: str, id: str | None = None, encoding: str = "utf-8",
                 drop_empty: bool = False, validation_file: str | Path | None = None) -> tuple[str, TaskSpec]:
    """The task ``hscore prune --file`` declares: named after the file (its stem as a plain name), its
    declaration checked and its paths absolute."""
    path = Path(path).resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip("._-") or "data"
    name = name if name not in BUILTIN else f"file_{name}"
    raw = {"text": text[0] if len(text) == 1 else list(text), "label": label, "id": id, "encoding": encoding,
           "drop_empty": drop_empty}
    if validation_file is not None:
        raw.update(train_file=str(path), validation_file=str(Path(validation_file).resolve()))
    else:
        raw["file"] = str(path)
    return name, parse_spec(name, raw)


def training_table(cfg: PairConfig) -> tuple[pd.DataFrame, str]:
    """The pair's training examples as a table of their original columns (index = example id), and
    the format to write subsets in."""
    task = get_task(cfg.task, cfg.declared)
    split = pair_splits(task, cfg)["train"]
    if task.declared is not None:
        data = load_declared(task.name, task.declared, cfg.data_seed)
        return data.train.loc[split.ids], data.fmt
    table = pd.DataFrame({name: values for name, values in split.fields.items()
                          if all(isinstance(v, (str, int, float)) for v in values[:10])}, index=split.ids)
    table["label"] = [task.label_names[i] for i in split.labels]
    return table, "parquet"


def check_exportable(cfg: PairConfig) -> None:
    """One line, before anything trains, when the pair's subsets cannot be written back as rows."""
    kind = get_kind(get_task(cfg.task, cfg.declared).kind)
    config = model_config(cfg.checkpoint) or {}
    head = kind.head(config.get("model_type", "")) if config else ""
    if not kind.exportable(head, cfg.score_unit):
        raise ConfigError(f"{cfg.pair}: the {kind.name} kind scores parts of an example (score_unit: "
                          f"{cfg.score_unit}), so its subsets are not rows of the data and `hscore prune` cannot write "
                          "them; set `score_unit: example` for this pair in study.yaml, or use `hscore run` and the "
                          "book")


def numbers_as_numbers(frame: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """Columns read as text whose every value is a number (a CSV's ``stars``, ``confidence``) as
    numbers; the columns in ``keep`` (the texts) stay as they are."""
    out = frame.copy()
    for column in out.columns:
        if column in keep or out[column].dtype != object:
            continue
        values = out[column].dropna()
        if len(values) and values.map(lambda v: isinstance(v, str)).all():
            converted = pd.to_numeric(values, errors="coerce")
            if converted.notna().all():
                out[column] = pd.to_numeric(out[column], errors="coerce")
    return out


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False)


def phase2_section(pair: PairResults) -> list[str]:
    """The report's phase-2 table: every training set's score (mean ± sd over seeds) and every
    comparison of the winning ticket with its 95% bootstrap interval."""
    results = pair.phase2()
    if results.empty:
        return []
    metric = get_task(pair.cfg.task, pair.cfg.declared).metric
    table = tradeoff_table(results[results["metric"] == metric])
    shown = pd.DataFrame({"split": table["split"], "training set": [m if s == "full" else f"{m} {s}" for m, s in
                                                                     zip(table["method"], table["subset"])],
                          "examples": table["size"], f"{metric} (%)": [f"{m:.1f} ± {s:.1f}" if n > 1 else f"{m:.1f}"
                          for m, s, n in zip(table["mean"], table["std"], table["seeds"])], "seeds": table["seeds"]})
    lines = ["## Phase 2: fine-tuning on the subsets", "", _markdown(shown), ""]
    comparisons = comparison_table(pair.cfg, pair.predictions(), results)
    ticket = comparisons[comparisons["A"] == "winning ticket"]
    if len(ticket):
        rows = pd.DataFrame({"split": ticket["split"], "against": ticket["B"],
                             "ticket - it": ticket["A - B"].map(lambda v: f"{v:+.1f}"),
                             "95% interval": [f"{lo:+.1f} to {hi:+.1f}" for lo, hi in
                                              zip(ticket["95% CI low"], ticket["95% CI high"])],
                             "verdict": ticket["verdict"]})
        lines += ["The winning ticket against each training set, with a 95% interval from a paired bootstrap over "
                  "seeds and evaluation examples (`hscore.analysis.stats`):", "", _markdown(rows), ""]
    return lines


def write_pruned(pair: PairResults, out: Path | None = None) -> tuple[Path, list[str], list[str]]:
    """The scores, every H-score subset as a file and a report, from the pair's current selection;
    returns the folder, the notes a user should read (renamed columns) and the warnings (one per class kept
    at less than half its share: ``hscore.pruning.classes``)."""
    cfg = pair.cfg
    out = Path(out) if out is not None else cfg.results_dir / "pruned"
    task = get_task(cfg.task, cfg.declared)
    table, fmt = training_table(cfg)
    scores, subsets = pair.scores(), pair.subsets()
    ext = EXTENSIONS[fmt]
    original = table.loc[scores["example_id"].to_numpy()].reset_index(drop=True)
    extra = scores.drop(columns=[c for c in ("example_id", "feature", "label") if c in scores.columns])
    extra.insert(0, "label_id", scores["label"].to_numpy())
    clash = [c for c in extra.columns if c in original.columns]
    notes = [f"the data already has a column {c!r}: the score is written as 'hscore_{c}'" for c in clash]
    texts = task.declared.text_columns if task.declared is not None else []
    atomic_write_parquet(out / paths.SCORES_FILE, pd.concat(
        [numbers_as_numbers(original, texts), extra.rename(columns=lambda c: f"hscore_{c}" if c in clash else c)],
        axis=1))
    files = []
    for spec in subsets.specs:
        rows = subsets.positions("hscore", spec.name, cfg.phase2.seeds[0])
        name = "winning_ticket" if spec.is_winning_ticket else spec.name
        write_table(original.iloc[rows], out / f"{name}{ext}", fmt)
        files.append((name + ext, spec.label, len(rows)))
    if cfg.class_floor is not None:   # the ticket with every class restored to a fraction of its share
        ticket = subsets.winning_ticket
        rows = subsets.positions("floor", ticket.name, cfg.phase2.seeds[0])
        write_table(original.iloc[rows], out / f"winning_ticket_floor{ext}", fmt)
        files.append((f"winning_ticket_floor{ext}", f"{ticket.label}, every class >= {cfg.class_floor:g} of its share",
                      len(rows)))
    names = list(task.label_names)
    labels = scores["label"].to_numpy()
    balance = class_balance(labels, subsets.hscore_positions(), names)
    under = Selection(scores, subsets).class_warnings(names)
    hist = h_histogram(scores["h"].to_numpy(), cfg.runs)
    lines = [f"# Pruned: {cfg.task} with {cfg.model} (profile {cfg.profile})", "",
             f"Data: {task.source}. {len(scores):,} training examples; R = {cfg.runs} scoring runs of "
             f"{cfg.phase1.epochs} epochs. Labels (id: name): "
             + ", ".join(f"{i}: {n}" for i, n in enumerate(names)) + ".", ""]
    if notes:
        lines += ["**Columns:** " + "; ".join(notes) + ".", ""]
    lines += ["## H histogram", "", "| H | examples | % |", "|---|---|---|"]
    lines += [f"| {h} | {n} | {100 * n / len(scores):.1f} |" for h, n in hist.items()]
    lines += ["", "H = runs in which the example was right in every epoch. H = 0 (never learned) and "
              f"H = {cfg.runs} (always learned) are pruned; the winning ticket keeps the rest.", "",
              "## Files", "", "| file | kept H | examples | % of the training set |", "|---|---|---|---|"]
    lines += [f"| {f} | {label} | {n} | {100 * n / len(scores):.1f} |" for f, label, n in files]
    lines += ["", "`scores.parquet`: every training example with its original columns and its scores.", "",
              "## Label balance", "", balance.round(1).to_markdown(index=False), ""]
    if under:
        lines += [f"**A class falls below {UNDER_SHARE:.0%} of its share:** " + "; ".join(under)
                  + " (`class_floor: 0.5` in study.yaml keeps every class at half its share or more).", ""]
    lines += phase2_section(pair)
    atomic_write_bytes(out / paths.REPORT_FILE, "\n".join(lines).encode())
    return out, notes, under


def busy_warning() -> str | None:
    """A sentence when other work already keeps the cores busy (training would share them)."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return None
    cores = os.cpu_count() or 1
    if load < max(1.0, 0.5 * cores):
        return None
    return (f"this machine is busy (load average {load:.1f} on {cores} cores) before training starts: the runs share "
            "the cores with that work and can be many times slower than the estimate")


def prune(cfg: PairConfig, out: Path | None = None, evaluate: bool = False, jobs: int = 1,
          executor: str = "local", say=print) -> tuple[Path, list[str], list[str]]:
    """Score (phase 1), select, and (``evaluate``) fine-tune on the subsets; then ``write_pruned``."""
    from ..engine.estimate import estimate  # loads the model: only when about to train

    check_exportable(cfg)
    plan = plans.from_configs(cfg.profile, [cfg])
    stages = None if evaluate else ("score", "select")
    board = Board(plan, load_data=True)
    todo = executors.check(board, stages)
    if any(not s.derived for s in todo):
        say(estimate(cfg, todo, jobs).describe())
        warning = busy_warning()
        if warning:
            say(f"hscore: warning: {warning}")
    executors.run(plan, executor, jobs, stages, board=board)
    return write_pruned(PairResults(cfg, board.pairs[cfg.pair]), out)
