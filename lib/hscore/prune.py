"""Prune your own data: phase 1 on one task, then what a user takes away, as files.

``hscore prune`` (and ``make prune``) runs the pair's scoring runs and selection (phase 2 too with
``--evaluate``) through the plan, here, with progress bars and resumable like the study, and
writes into ``results/<profile>/<model>/<task>/pruned/`` (or ``--out``):

- ``scores.parquet``: one row per training example, its original columns first, then H, success
  rate, confidence, variability, correctness and every baseline's score (``hscore.scores``);
- ``winning_ticket.<ext>`` and ``<subset>.<ext>`` for every H-score subset (``remove-0-1-6`` ...):
  the kept rows of the training data with every original column, in the input's own format
  (CSV, TSV, JSON Lines or Parquet; Parquet for built-in and Hub tasks);
- ``report.md``: the label mapping, the H histogram, the subsets' sizes and label balance, a
  warning when a class nearly vanishes, and what was done to the data (rows dropped).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import paths
from .config import PairConfig
from .declared import load_declared, write_table
from .scores import h_histogram
from .selection import label_balance, load_scores, load_subsets, vanishing_classes
from .tasks import get_task, load_splits


def training_table(cfg: PairConfig) -> tuple[pd.DataFrame, str]:
    """The pair's training examples as a table of their original columns (index = example id), and
    the format to write subsets in."""
    task = get_task(cfg.task)
    split = load_splits(task, cfg.train_cap, cfg.eval_cap, cfg.data_seed)["train"]
    if task.declared is not None:
        spec, base = task.declared
        data = load_declared(task.name, spec, base, cfg.data_seed)
        return data.train.loc[split.ids], data.fmt
    table = pd.DataFrame({name: values for name, values in split.fields.items()
                          if all(isinstance(v, (str, int, float)) for v in values[:10])}, index=split.ids)
    table["label"] = [task.label_names[i] for i in split.labels]
    return table, "parquet"


def write_pruned(cfg: PairConfig, out: Path | None = None) -> Path:
    """The scores, every H-score subset as a file and a report, from the pair's finished selection."""
    out = Path(out) if out is not None else cfg.results_dir / "pruned"
    task = get_task(cfg.task)
    table, fmt = training_table(cfg)
    scores = load_scores(cfg)
    if cfg.score_unit != "feature" or not scores["feature"].eq(0).all():
        raise NotImplementedError("prune writes classification tasks (one row per example)")
    ext = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "parquet": ".parquet"}[fmt]
    original = table.loc[scores["example_id"].to_numpy()].reset_index(drop=True)
    extra = scores.drop(columns=[c for c in ("example_id", "feature", "label") if c in scores.columns])
    extra.insert(0, "label_id", scores["label"].to_numpy())
    out.mkdir(parents=True, exist_ok=True)
    pd.concat([original, extra.rename(columns=lambda c: c if c not in original.columns else f"hscore_{c}")],
              axis=1).to_parquet(out / "scores.parquet", index=False)
    subsets = load_subsets(cfg)
    files = []
    for spec in subsets.specs:
        rows = subsets.positions("hscore", spec.name, cfg.phase2.seeds[0])
        name = "winning_ticket" if spec.is_winning_ticket else spec.name
        write_table(original.iloc[rows], out / f"{name}{ext}", fmt)
        files.append((name + ext, spec.label, len(rows)))
    balance = label_balance(scores, subsets).rename(
        columns={f"label {i} %": f"{n} %" for i, n in enumerate(task.label_names)}
        | {f"label {i}": n for i, n in enumerate(task.label_names)})
    warnings = vanishing_classes(balance)   # in the label names
    hist = h_histogram(scores["h"].to_numpy(), cfg.runs)
    lines = [f"# Pruned: {cfg.task} with {cfg.model} (profile {cfg.profile})", "",
             f"Data: {task.source}. {len(scores):,} training examples; R = {cfg.runs} scoring runs of "
             f"{cfg.phase1.epochs} epochs. Labels (id: name): "
             + ", ".join(f"{i}: {n}" for i, n in enumerate(task.label_names)) + ".", "",
             "## H histogram", "", "| H | examples | % |", "|---|---|---|"]
    lines += [f"| {h} | {n} | {100 * n / len(scores):.1f} |" for h, n in hist.items()]
    lines += ["", "H = runs in which the example was right in every epoch. H = 0 (never learned) and "
              f"H = {cfg.runs} (always learned) are pruned; the winning ticket keeps the rest.", "",
              "## Files", "", "| file | kept H | examples | % of the training set |", "|---|---|---|---|"]
    lines += [f"| {f} | {label} | {n} | {100 * n / len(scores):.1f} |" for f, label, n in files]
    lines += ["", "`scores.parquet`: every training example with its original columns and its scores.", "",
              "## Label balance", "", balance.round(1).to_markdown(index=False), ""]
    if warnings:
        lines += ["**A class nearly vanishes:** " + "; ".join(warnings) + ".", ""]
    (out / "report.md").write_text("\n".join(lines))
    return out


def prune(cfg: PairConfig, out: Path | None = None, evaluate: bool = False, jobs: int = 1) -> Path:
    """Score (phase 1), select, and (``evaluate``) fine-tune on the subsets; then ``write_pruned``."""
    from .executors import run_local
    from .plan import Plan, pair_steps, writable

    writable(paths.profile_dir(cfg.profile))
    plan = Plan(cfg.profile, (cfg,), tuple(pair_steps(cfg)))
    run_local(plan, jobs=jobs, stages=None if evaluate else ("score", "select"))
    return write_pruned(cfg, out)
