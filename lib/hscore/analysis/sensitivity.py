"""How sensitive is the winning ticket? Tables and sentences from a pair scored at other settings.

The pair's own scoring (R runs) is the reference. Every variant (``variants:`` in ``study.yaml``,
R' runs of the pair's first R' seeds at one changed phase-1 setting) is compared with the pair's
ticket from those same R' runs (``hscore.pruning.variants.against``), so a row measures the setting,
not the number of runs. Three rows come free from the recorded runs: the pair's last R' seeds against
its first R' (the noise of the seeds, the yardstick every setting is read against), and fewer runs
and fewer epochs of the pair's own scoring against the full one (``hscore.pruning.cheaper``). Phase 2
trained the tickets of the variants that moved most (``moved_tickets``) and the pair's own R'-run
ticket beside them; ``moved_comparisons`` puts bootstrap intervals on their scores
(``hscore.analysis.stats``). Pure functions over the readers' tables; no torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dynamics import TrainingDynamics
from ..pruning.cheaper import cheaper_table, h_from, jaccard, spearman, ticket
from ..pruning.scores import el2n, el2n_train_step
from ..pruning.subsets import highest
from ..pruning.variants import against
from .stats import compare

SEEDS = "other seeds"


def movement_table(base: TrainingDynamics, variants: dict[str, TrainingDynamics], changed: dict[str, str],
                   variant_scores: pd.DataFrame | None = None, metric: str | None = None) -> pd.DataFrame:
    """One row per variant, and one for the pair's other seeds: how its ticket compares with the pair's
    ticket of the same run count (size, Jaccard, Spearman of H, largest class shift) and, from
    ``variant_scores`` (``PairResults.variant_runs``), the mean full-data score of its runs in ``metric``."""
    rows = []
    runs = {d.runs for d in variants.values()} or {base.runs // 2}
    for r in sorted(runs):
        if 2 * r <= base.runs:            # the pair's own last r seeds against its first r: the seeds' noise
            row = against(base.correct[:r], base.correct[r:2 * r], base.label)
            rows.append({"setting": SEEDS, "changed": f"seeds {', '.join(map(str, base.seeds[r:2 * r]))}", **row})
    for name, dyn in variants.items():
        row = against(base.correct, dyn.correct, base.label)
        rows.append({"setting": name, "changed": changed.get(name, ""), **row})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["% of train"] = 100 * table["ticket size"] / base.correct.shape[2]
    if variant_scores is not None and not variant_scores.empty and metric is not None:
        mean = variant_scores[variant_scores["metric"] == metric].groupby("variant")["score"].mean()
        table["full-data score of its runs"] = table["setting"].map(mean)
    return table


def runs_table(base: TrainingDynamics) -> pd.DataFrame:
    """Fewer runs (all epochs) and fewer epochs (all runs) of the pair's own scoring against the full one."""
    table = cheaper_table(base.correct)
    keep = (table["epochs"] == base.epochs) | (table["runs"] == base.runs)
    return table[keep].reset_index(drop=True)


def ticket_classes(labels: np.ndarray, tickets: dict[str, np.ndarray], label_names) -> pd.DataFrame:
    """Each ticket's class shares (% of the ticket), beside the training set's."""
    labels = np.asarray(labels)
    rows = [{"ticket": "training set", "size": len(labels),
             **{name: 100 * np.mean(labels == c) for c, name in enumerate(label_names)}}]
    for what, positions in tickets.items():
        kept = labels[np.asarray(positions, dtype=np.int64)]
        rows.append({"ticket": what, "size": len(kept),
                     **{name: 100 * np.mean(kept == c) if len(kept) else np.nan for c, name in enumerate(label_names)}})
    return pd.DataFrame(rows)


def variant_tickets(base: TrainingDynamics, variants: dict[str, TrainingDynamics]) -> dict[str, np.ndarray]:
    """The pair's own ticket, the pair's ticket at each variant run count, and every variant's."""
    out = {f"pair, {base.runs} runs": ticket(h_from(base.correct, base.runs, base.epochs), base.runs)}
    for r in sorted({d.runs for d in variants.values()}):
        out[f"pair, {r} runs"] = ticket(h_from(base.correct, r, base.epochs), r)
    for name, dyn in variants.items():
        out[name] = ticket(h_from(dyn.correct, dyn.runs, dyn.epochs), dyn.runs)
    return out


MOVED_COLUMNS = ["split", "metric", "A", "B", "A size", "B size", "A score", "B score", "A - B", "95% CI low",
                 "95% CI high", "p", "verdict", "seeds", "examples"]


def moved_comparisons(preds: pd.DataFrame, results: pd.DataFrame, info: dict, metric: str,
                      ticket_subset: str) -> pd.DataFrame:
    """Phase 2 of the moved tickets, with bootstrap intervals: each moved ticket against the pair's
    ticket of the same run count (``moved/base``), and that one against the pair's winning ticket and the
    full set; from ``PairResults.predictions`` and ``.phase2`` and the selection's ``info['moved']``."""
    if preds.empty or "moved" not in info:
        return pd.DataFrame(columns=MOVED_COLUMNS)
    runs = info["moved"]["runs"]
    labels = {("moved", "base"): f"pair's ticket, {runs} runs", ("hscore", ticket_subset): "winning ticket",
              ("full", "full"): "full data (phase-2 settings)"}
    for t in info["moved"]["tickets"]:
        labels[("moved", t["subset"])] = f"ticket of {t['variant']}"
    sizes = results.drop_duplicates(["method", "subset"]).set_index(["method", "subset"])["size"]
    pairs = [(("moved", t["subset"]), ("moved", "base")) for t in info["moved"]["tickets"]]
    pairs += [(("moved", "base"), ("hscore", ticket_subset)), (("moved", "base"), ("full", "full"))]
    rows = []
    for split, part in preds.groupby("split", sort=False):
        runs_of = {key: frame for key, frame in part.groupby(["method", "subset"])}
        for a, b in pairs:
            if a not in runs_of or b not in runs_of:
                continue
            c = compare(runs_of[a], runs_of[b], metric)
            rows.append({"split": split, "metric": metric, "A": labels[a], "B": labels[b], "A size": sizes.get(a),
                         "B size": sizes.get(b), "A score": c.a, "B score": c.b, "A - B": c.diff, "95% CI low": c.low,
                         "95% CI high": c.high, "p": c.p, "verdict": c.verdict, "seeds": c.seeds,
                         "examples": c.examples})
    return pd.DataFrame(rows, columns=MOVED_COLUMNS)


def el2n_agreement(dynamics: TrainingDynamics, size: int) -> dict | None:
    """How EL2N as its authors score it (an eval pass over the training set) ranks the examples against
    the train-step EL2N of epoch 1: Spearman per run and of the means over runs, and the Jaccard overlap
    of the two top-``size`` selections (ties at random, seed 0). None without a recorded eval pass."""
    if dynamics.eval_logits is None or dynamics.logits is None:
        return None
    n = len(dynamics.target)
    per_run = [spearman(el2n(dynamics.eval_logits[r:r + 1], dynamics.target, n),
                        el2n_train_step(dynamics.logits[r:r + 1], dynamics.target, n)) for r in range(dynamics.runs)]
    a, b = el2n(dynamics.eval_logits, dynamics.target, n), el2n_train_step(dynamics.logits, dynamics.target, n)
    return {"runs": dynamics.runs, "spearman per run": per_run, "spearman of the means": spearman(a, b),
            "size": size, "jaccard of the top": jaccard(highest(a, size, 0), highest(b, size, 0))}


def sentences(movement: pd.DataFrame, moved: pd.DataFrame, base_runs: int, base_ticket: int, n: int) -> list[str]:
    """The chapter's findings, computed from ``movement_table`` and ``moved_comparisons``, most important
    first: the ticket's size, whether any setting moves it further than seeds do, the yardstick, the
    setting that moves it most, then phase 2."""
    out = []
    if movement.empty:
        return out
    seeds = movement[movement["setting"] == SEEDS]
    settings = movement[movement["setting"] != SEEDS].sort_values("jaccard")
    out.append(f"The pair's winning ticket from {base_runs} runs holds {base_ticket} of {n} training examples "
               f"({100 * base_ticket / n:.0f}%).")
    verdict = len(out)   # the verdict on the settings goes here, second, once it is computed
    if len(seeds):
        s = seeds.iloc[0]
        out.append(f"Other seeds alone ({s['changed']}) move the {s['runs']}-run ticket to a Jaccard overlap of "
                   f"{s['jaccard']:.2f} with the pair's first {s['runs']} (Spearman of H "
                   f"{s['spearman of H']:.2f}): the yardstick for every setting.")
    if len(settings):
        floor = seeds["jaccard"].iloc[0] if len(seeds) else np.nan
        below = settings[settings["jaccard"] < floor] if np.isfinite(floor) else settings.iloc[0:0]
        first = settings.iloc[0]
        out.append(f"The setting that moves the ticket most is {first['setting']} ({first['changed']}): overlap "
                   f"{first['jaccard']:.2f}, ticket {first['ticket size']} examples against "
                   f"{first['base ticket size']}, Spearman of H {first['spearman of H']:.2f}, largest class shift "
                   f"{first['largest class shift (points)']:.1f} points.")
        if np.isfinite(floor):
            if below.empty:
                out.insert(verdict, f"None of the {len(settings)} settings moves it further than other seeds do: "
                                    "every one stays within the seeds' own noise.")
            elif len(below) == len(settings):
                out.insert(verdict, f"All {len(settings)} settings move it further than other seeds do.")
            else:
                out.insert(verdict, f"{len(below)} of {len(settings)} settings move it further than other seeds do "
                                    f"({', '.join(below['setting'])}); the rest stay within the seeds' own noise.")
    for _, r in moved.iterrows():
        verdict = {"higher": "higher, beyond noise", "lower": "lower, beyond noise", "within noise": "within noise"}[
            r["verdict"]]
        out.append(f"In phase 2 on {r['split']}, the {r['A']} ({r['A size']:.0f} examples) scores {r['A score']:.1f} "
                   f"against {r['B score']:.1f} for the {r['B']}: {r['A - B']:+.1f} points (95% CI "
                   f"{r['95% CI low']:+.1f} to {r['95% CI high']:+.1f}, {r['seeds']} seeds), {verdict}.")
    return out
