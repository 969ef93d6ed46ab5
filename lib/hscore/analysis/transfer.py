"""Does a small model's ticket serve a larger one? Tables and sentences for a pair scored by a proxy.

A pair with ``scoring_model`` is scored by a small model (its R phase-1 runs, ``PairResults.phase1_runs``)
and trains its own, larger model in phase 2: on the full set, on the proxy's winning ticket
(method ``hscore``) and on random subsets of the ticket's size. A variant that scores with the pair's
own model (a few runs, ``PairResults.variant_runs``) prices what the larger model's own scoring
would cost and shows which examples it would have picked. Every comparison carries a paired
bootstrap interval over phase-2 seeds and evaluation examples (``hscore.analysis.stats``). Pure
functions over the readers' tables; no torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dynamics import TrainingDynamics
from ..pruning.variants import against
from .stats import compare

COMPARISON_COLUMNS = ["split", "metric", "A", "B", "A score", "B score", "A - B", "95% CI low", "95% CI high", "p",
                      "verdict", "seeds", "examples", "paired seeds"]


def comparisons(preds: pd.DataFrame, ticket: str, metric: str, proxy: str, model: str) -> pd.DataFrame:
    """The larger model on the proxy's ticket against it on the full set and on random subsets of the
    ticket's size, and the larger model against the proxy on the full set (the proxy's scoring runs:
    other seeds, unpaired), with bootstrap intervals."""
    names = {("hscore", ticket): f"{model} on {proxy}'s ticket", ("full", "full"): f"{model}, full data",
             ("random", ticket): f"{model}, random subset of the ticket's size",
             ("phase1", "full"): f"{proxy}, full data (its scoring runs)"}
    pairs = [(("hscore", ticket), ("full", "full")), (("hscore", ticket), ("random", ticket)),
             (("full", "full"), ("phase1", "full"))]
    rows = []
    for split, part in preds.groupby("split", sort=False):
        runs = {key: frame for key, frame in part.groupby(["method", "subset"])}
        for a, b in pairs:
            if a in runs and b in runs:
                c = compare(runs[a], runs[b], metric)
                rows.append({"split": split, "metric": metric, "A": names[a], "B": names[b], "A score": c.a,
                             "B score": c.b, "A - B": c.diff, "95% CI low": c.low, "95% CI high": c.high, "p": c.p,
                             "verdict": c.verdict, "seeds": c.seeds, "examples": c.examples,
                             "paired seeds": c.paired_seeds})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def cost_table(phase1: pd.DataFrame, results: pd.DataFrame, own: pd.DataFrame, ticket: str) -> pd.DataFrame:
    """What the proxy's scoring costs against the larger model's own, from the recorded wall times and
    FLOPs: the proxy's R runs (``phase1``), the larger model's scoring runs measured (``own``, a few of
    R) and scaled to R, and the time a run on the ticket saves against the full set (``results``)."""
    proxy = phase1.drop_duplicates("run")
    measured = own.drop_duplicates("run")
    if proxy.empty or measured.empty:
        return pd.DataFrame()
    r = len(proxy)
    runs = results.drop_duplicates(["method", "subset", "seed"])
    full = runs.loc[runs["method"] == "full", "wall_seconds"].mean()
    on_ticket = runs.loc[(runs["method"] == "hscore") & (runs["subset"] == ticket), "wall_seconds"].mean()
    flops = lambda frame: pd.to_numeric(frame["flops"], errors="coerce")
    own_per_run, own_flops = measured["wall_seconds"].mean(), flops(measured).mean()
    return pd.DataFrame([{
        "scoring runs": r, "proxy scoring (s)": proxy["wall_seconds"].sum(),
        "own scoring runs measured": len(measured), "own scoring per run (s)": own_per_run,
        "own scoring, R runs (s, scaled)": own_per_run * r,
        "proxy as % of own (time)": 100 * proxy["wall_seconds"].sum() / (own_per_run * r),
        "proxy as % of own (FLOPs)": 100 * flops(proxy).sum() / (own_flops * r),
        "full-set run (s)": full, "ticket run (s)": on_ticket, "saved per later run (s)": full - on_ticket,
        "later runs to pay back proxy scoring": proxy["wall_seconds"].sum() / (full - on_ticket)
        if full > on_ticket else np.inf,
        "later runs to pay back own scoring": own_per_run * r / (full - on_ticket) if full > on_ticket else np.inf,
    }])


def own_ticket(proxy: TrainingDynamics, own: TrainingDynamics) -> dict:
    """The larger model's own ticket (its few scoring runs) against the proxy's from as many runs."""
    return against(proxy.correct, own.correct, proxy.label)


def sentences(table: pd.DataFrame, cost: pd.DataFrame, agreement: dict | None, proxy: str, model: str) -> list[str]:
    """The chapter's findings, computed from ``comparisons``, ``cost_table`` and ``own_ticket``."""
    out = []
    verdict = {"higher": "higher, beyond noise", "lower": "lower, beyond noise", "within noise": "within noise"}
    for _, r in table.iterrows():
        out.append(f"On {r['split']}, {r['A']} scores {r['A score']:.1f} against {r['B score']:.1f} for {r['B']}: "
                   f"{r['A - B']:+.1f} points (95% CI {r['95% CI low']:+.1f} to {r['95% CI high']:+.1f}, {r['seeds']} "
                   f"seed{'s' if r['seeds'] != 1 else ''} x {r['examples']} examples), {verdict[r['verdict']]}.")
    if not cost.empty:
        c = cost.iloc[0]
        per_run, measured = c["own scoring per run (s)"], int(c["own scoring runs measured"])
        time_share, flop_share = c["proxy as % of own (time)"], c["proxy as % of own (FLOPs)"]
        out.append(f"{proxy}'s {int(c['scoring runs'])} scoring runs took {c['proxy scoring (s)']:.0f} s; one {model} "
                   f"scoring run took {per_run:.0f} s ({measured} measured), so {model}'s own scoring would take "
                   f"about {c['own scoring, R runs (s, scaled)']:.0f} s: the proxy costs {time_share:.0f}% of it in "
                   f"time and {flop_share:.0f}% in FLOPs.")
        if np.isfinite(c["later runs to pay back proxy scoring"]):
            proxy_runs, own_runs = c["later runs to pay back proxy scoring"], c["later runs to pay back own scoring"]
            out.append(f"Each {model} run on the ticket saves {c['saved per later run (s)']:.0f} s against the full "
                       f"set, so the proxy's scoring pays for itself after {proxy_runs:.1f} later runs, and "
                       f"{model}'s own after {own_runs:.1f}.")
        else:
            out.append(f"Each {model} run on the ticket saves no time against the full set here.")
    if agreement:
        out.append(f"{model}'s own ticket from {agreement['runs']} runs overlaps {proxy}'s from as many by Jaccard "
                   f"{agreement['jaccard']:.2f} (Spearman of H {agreement['spearman of H']:.2f}; tickets of "
                   f"{agreement['ticket size']} and {agreement['base ticket size']} examples).")
    return out
