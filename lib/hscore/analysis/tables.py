"""Result tables: phase-2 scores by subset, and the winning-ticket table across pairs.

``paper_results.csv`` (in this package) holds the numbers the paper's official repository
reports for RoBERTa-large (full-data score, winning-ticket size in % of the training set, and
winning-ticket score), on the split the official code evaluates (SNLI and RACE: test); OPT-350m
numbers were not published there.

"Full data" is two numbers here, named for what they are: the phase-1 runs (the full training
set with the phase-1 settings, mean and spread over the R scoring seeds), which is what the
paper's full-data column reports (its ``phase2.sh`` has no full-data run), and a run on the full
set with the phase-2 settings and seeds, the like-for-like comparison for the subsets.
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pandas as pd

from ..config import PairConfig, profile_configs
from ..data import get_task
from ..pruning.baselines import BASELINES
from ..pruning.methods import METHODS
from ..pruning.subsets import subset_family
from ..study.results import PairResults
from .stats import compare

METHOD_LABELS = {m.name: m.label for m in METHODS.values()}   # a view of the one registry
FULL_COLUMNS = ("full data (phase-1 runs)", "full data (phase-2 settings)")


def baseline_columns(table: pd.DataFrame) -> list[str]:
    """The baselines a summary table holds, in the registry's order."""
    return [name for name in BASELINES if name in table.columns]


def paper_results() -> pd.DataFrame:
    """The paper's reported numbers (RoBERTa-large)."""
    return pd.read_csv(files("hscore.analysis") / "paper_results.csv")


def tradeoff_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over phase-2 seeds of each (split, metric, method, subset)."""
    keys = ["split", "metric", "method", "subset", "kept", "size", "fraction"]
    grouped = results.groupby(keys, dropna=False)["score"]
    out = grouped.agg(mean="mean", std="std", seeds="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    out = out.sort_values(["split", "metric", "size", "method"], ascending=[True, True, False, True])
    return out.reset_index(drop=True)


def headline_metric(cfg: PairConfig) -> str:
    """The task's headline metric (accuracy; F1 for extractive QA), the one every summary reports."""
    return get_task(cfg.task, cfg.declared).metric


def pair_summary(cfg: PairConfig, results: pd.DataFrame, phase1: pd.DataFrame) -> pd.DataFrame:
    """The winning-ticket row of one pair, for each evaluation split, in the task's headline metric,
    from its phase-2 results and scoring runs (``PairResults.phase2`` and ``.phase1_runs``); empty
    before phase 2 ran. The seed counts are those of the runs behind each mean."""
    if results.empty:
        return pd.DataFrame()
    metric = headline_metric(cfg)
    ticket = subset_family(cfg.runs)[0].name
    table = tradeoff_table(results[results["metric"] == metric])
    phase1 = phase1[phase1["metric"] == metric].groupby("split")["score"].agg(["mean", "std", "count"])
    rows = []
    for split, part in table.groupby("split"):
        def score(method, subset):
            hit = part[(part["method"] == method) & (part["subset"] == subset)]
            return (hit["mean"].iloc[0], hit["std"].iloc[0], int(hit["seeds"].iloc[0])) if len(hit) else \
                (np.nan, np.nan, 0)

        full, full_sd, full_n = score("full", "full")
        p1, p1_sd = (phase1.loc[split, "mean"], phase1.loc[split, "std"]) if split in phase1.index else (np.nan, np.nan)
        tick, tick_sd, tick_n = score("hscore", ticket)
        baselines = {name: score(name, ticket) for name in cfg.baselines}
        size = part.loc[(part["method"] == "hscore") & (part["subset"] == ticket), "size"]
        full_size = part.loc[part["method"] == "full", "size"]
        rows.append({
            "model": cfg.model, "task": cfg.task, "split": split, "metric": metric,
            "train examples": int(full_size.iloc[0]) if len(full_size) else np.nan,
            "ticket size": int(size.iloc[0]) if len(size) else np.nan,
            "ticket % of full": 100 * size.iloc[0] / full_size.iloc[0] if len(size) and len(full_size) else np.nan,
            "full data (phase-1 runs)": p1, "full data (phase-2 settings)": full, "winning ticket": tick,
            **{name: m for name, (m, _, _) in baselines.items()}, "ticket - full": tick - full,
            "full data (phase-1 runs) sd": 0.0 if np.isnan(p1_sd) else p1_sd,
            "full data (phase-2 settings) sd": full_sd,
            "winning ticket sd": tick_sd, **{f"{name} sd": sd for name, (_, sd, _) in baselines.items()},
            "phase-1 runs": int(phase1.loc[split, "count"]) if split in phase1.index else 0,
            "phase-2 seeds": min(full_n, tick_n) if full_n and tick_n else max(full_n, tick_n),
            "full data (phase-2 settings) n": full_n, "winning ticket n": tick_n,
            **{f"{name} n": n for name, (_, _, n) in baselines.items()},
        })
    return pd.DataFrame(rows)


def cost_table(cfg: PairConfig, results: pd.DataFrame, phase1: pd.DataFrame) -> pd.DataFrame:
    """What the method costs on this machine and when it pays for itself, from the recorded wall
    times (evaluation included, as every run records it), and in FLOPs estimated from the tokens and
    the model's non-embedding parameters (6 per parameter and trained token, 2 per evaluated one),
    which carry to other hardware.

    The scoring is the R phase-1 runs on the full set; a later fine-tuning run on the winning ticket
    instead of the full set (both at the phase-2 settings; mean over seeds) saves the difference,
    so the scoring has paid for itself after ``scoring / saving`` such runs (infinite when the
    ticket run is not faster). Empty before phase 2 ran."""
    scoring = phase1.drop_duplicates("run")
    if results.empty or scoring.empty:
        return pd.DataFrame()
    runs = results.drop_duplicates(["method", "subset", "seed"])
    ticket = subset_family(cfg.runs)[0].name
    full = runs.loc[runs["method"] == "full", "wall_seconds"].mean()
    on_ticket = runs.loc[(runs["method"] == "hscore") & (runs["subset"] == ticket)]
    saving = full - on_ticket["wall_seconds"].mean()
    cost = scoring["wall_seconds"].sum()
    pflop = lambda frame: pd.to_numeric(frame["flops"], errors="coerce") / 1e15   # NaN for older records
    return pd.DataFrame([{
        "model": cfg.model, "task": cfg.task, "scoring runs": len(scoring), "scoring (s)": cost,
        "full-set run (s)": full, "ticket run (s)": on_ticket["wall_seconds"].mean(),
        "ticket % of full": 100 * on_ticket["fraction"].mean() if len(on_ticket) else np.nan,
        "saved per later run (s)": saving,
        "later runs to pay back": cost / saving if saving > 0 else np.inf,
        "scoring (PFLOP)": pflop(scoring).sum(min_count=len(scoring)),
        "full-set run (PFLOP)": pflop(runs[runs["method"] == "full"]).mean(),
        "ticket run (PFLOP)": pflop(on_ticket).mean(),
    }])


COMPARISON_COLUMNS = ["split", "metric", "subset", "kept", "% of full", "A", "B", "A score", "B score", "A - B",
                      "95% CI low", "95% CI high", "p", "verdict", "seeds", "examples", "resampled"]


def comparison_table(cfg: PairConfig, preds: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Every comparison the book makes, with its bootstrap interval (``hscore.analysis.stats``), on each
    evaluation split in the task's headline metric: each H-score subset against the full set
    (phase-2 settings, same seeds) and against each baseline of its size, and the winning ticket
    against the phase-1 runs (the paper's full-data figure; other seeds, so unpaired).
    From the per-example predictions and the phase-2 results (``PairResults.predictions`` and
    ``.phase2``); empty when no run kept its per-example predictions."""
    if preds.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    metric = headline_metric(cfg)
    family = subset_family(cfg.runs)
    sizes = results.drop_duplicates(["method", "subset"]).set_index(["method", "subset"])["fraction"]
    rows = []
    for split, part in preds.groupby("split", sort=False):
        runs = {key: frame for key, frame in part.groupby(["method", "subset"])}
        for i, spec in enumerate(family):
            ours = runs.get(("hscore", spec.name))
            if ours is None:
                continue
            others = [("full", "full", METHOD_LABELS["full"] + " (phase-2 settings)")]
            others += [(name, spec.name, f"{METHOD_LABELS[name]}, same size") for name in cfg.baselines]
            if i == 0:
                others += [("phase1", "full", "full data (phase-1 runs)"), ("cheaper", spec.name, "cheaper ticket"),
                           ("floor", spec.name, "ticket with class floor")]
            for method, subset, label in others:
                theirs = runs.get((method, subset))
                if theirs is None:
                    continue
                c = compare(ours, theirs, metric)
                rows.append({"split": split, "metric": metric, "subset": spec.name, "kept": spec.label,
                             "% of full": 100 * sizes.get(("hscore", spec.name), np.nan),
                             "A": "winning ticket" if i == 0 else f"H-score {spec.label}", "B": label,
                             "A score": c.a, "B score": c.b, "A - B": c.diff, "95% CI low": c.low,
                             "95% CI high": c.high, "p": c.p, "verdict": c.verdict, "seeds": c.seeds,
                             "examples": c.examples, "resampled": c.resampled})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def conclusions(table: pd.DataFrame) -> list[str]:
    """One sentence per comparison of the winning ticket, computed from ``comparison_table``."""
    out = []
    for _, r in table[table["A"] == "winning ticket"].iterrows():
        verdict = {"higher": "higher, beyond noise", "lower": "lower, beyond noise",
                   "within noise": "within noise"}[r["verdict"]]
        out.append(f"On {r['split']}, the winning ticket ({r['% of full']:.0f}% of the training set) scores "
                   f"{r['A score']:.1f} against {r['B score']:.1f} for {r['B']}: {r['A - B']:+.1f} points "
                   f"(95% CI {r['95% CI low']:+.1f} to {r['95% CI high']:+.1f}, {r['seeds']} seed(s) x "
                   f"{r['examples']} examples resampled), {verdict}.")
    return out


def profile_summary(profile: str, pairs: list[PairResults] | None = None) -> pd.DataFrame:
    """The winning-ticket table of every pair of a profile that has phase-2 results, beside the paper."""
    pairs = pairs if pairs is not None else [PairResults(cfg) for cfg in profile_configs(profile)]
    parts = [pair_summary(pair.cfg, pair.phase2(), pair.phase1_runs()) for pair in pairs]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    paper = paper_results().rename(columns={"full_score": "paper full data", "ticket_pct": "paper ticket %",
                                            "ticket_score": "paper winning ticket"})
    return table.merge(paper, on=["model", "task", "split"], how="left")


def display_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The summary table as the book shows it, narrow enough for a page: the pair, its split and metric,
    the ticket's size, one decimal with the spread folded in (mean ± sd where several runs are behind
    it), and the paper's reported numbers only where some pair is the paper's (blank where not)."""
    out = pd.DataFrame({"pair": table["model"] + " / " + table["task"], "split": table["split"],
                        "metric": table["metric"],
                        "ticket": [f"{int(t)} of {int(n)} ({p:.0f}%)" if pd.notna(t) else ""
                                   for t, n, p in zip(table["ticket size"], table["train examples"],
                                                      table["ticket % of full"])]})
    for col in (*FULL_COLUMNS, "winning ticket", *baseline_columns(table)):
        counts = table["phase-1 runs"] if col.endswith("runs)") else table.get(f"{col} n", table["phase-2 seeds"])
        out[col] = ["" if pd.isna(m) else f"{m:.1f} ± {s:.1f}" if many else f"{m:.1f}"
                    for m, s, many in zip(table[col], table[f"{col} sd"], counts > 1)]
    out["ticket - full"] = table["ticket - full"].map(lambda v: "" if pd.isna(v) else f"{v:+.1f}")
    paper = [c for c in ("paper full data", "paper ticket %", "paper winning ticket") if c in table]
    if paper and table[paper].notna().any().any():
        out["paper: full, ticket %, ticket"] = [
            "" if pd.isna(row[paper[0]]) else ", ".join(f"{row[c]:g}" for c in paper) for _, row in table.iterrows()]
    return out
