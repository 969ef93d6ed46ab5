"""How the winning ticket changes with the size of the data: tables, the crossover N* and the trend.

The ``scaling`` profile trains one model on nested training sets of one task (N examples each, the
first N of one seeded, stratified permutation) with the same procedure. Per N this module reads
what the pair's results hold (``ScalingPoint``): the H-scores, the ticket's size and classes, and the
validation predictions of full data (the scoring runs), the ticket, random subsets of its size, the
ticket trained for as many updates as full data (``equal_steps``) and the nested subsets below a
share against random (``small_subsets``). From those it computes, with the paired bootstrap of
``hscore.analysis.stats``:

- ``size_table``: the ticket's share of the training set, the H histogram as shares, class shares;
- ``difference_table``: ticket - full, ticket - random, equal steps - full (and equal steps - ticket)
  per N, each with its 95% interval;
- ``crossover``: N*, the smallest N from which on (at it and at every larger N measured) the ticket is
  within noise of full data or better and scores above random, or None;
- ``share_trend``: a least-squares line of the ticket's share in log10 N, its slope's interval and the
  share it predicts at other sizes (an extrapolation when outside the measured range);
- ``small_table``: each nested subset below the share against random subsets of its size;
- ``sentences``: the chapter's and the README's answer, every number computed from the above.

Pure functions over tables; no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import TaskAlias
from .stats import compare

# Two-sided 95% critical values of Student's t by degrees of freedom (1-30); above 30, 1.96 is close enough.
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
       2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)

# The training-set sizes of the paper's tasks (the public datasets' train splits; SNLI without the
# examples that have no gold label, as the official code drops them), for placing its tickets on the axis.
PAPER_TRAIN_EXAMPLES = {"sst2": 67_349, "mnli": 392_702, "snli": 549_367, "race": 87_866, "squad_v2": 130_319}

AT_MAJORITY = 0.5   # points: a mean score this close to the majority class's is a model that learned nothing

DIFFERENCES = {   # the chapter's comparisons: name -> ((method, subset of A), (method, subset of B)); "ticket" resolves
    "ticket - full": (("hscore", "ticket"), ("full", "full")),
    "ticket - random": (("hscore", "ticket"), ("random", "ticket")),
    "equal steps - full": (("equal_steps", "ticket"), ("full", "full")),
    "equal steps - ticket": (("equal_steps", "ticket"), ("hscore", "ticket")),
}


def data_of(cfg) -> str:
    """The task whose data a pair trains on: the built-in task a ``data_of`` alias names, else its own."""
    return cfg.declared.data_of if isinstance(cfg.declared, TaskAlias) else cfg.task


def scaling_of(cfgs) -> list:
    """Of these pairs' configurations, those that train one model on one task's data at two or more
    training-set sizes, smallest first (the whole training set, ``train_cap: null``, last); data resampled
    to other class shares (``class_shares``) is other data."""
    groups: dict[tuple, list] = {}
    for cfg in cfgs:
        shares = cfg.declared.class_shares if isinstance(cfg.declared, TaskAlias) else None
        groups.setdefault((cfg.model, data_of(cfg), str(shares)), []).append(cfg)
    out = [c for group in groups.values() if len({c.train_cap for c in group}) >= 2 for c in group]
    return sorted(out, key=lambda c: (c.model, data_of(c), c.train_cap is None, c.train_cap or 0))


@dataclass(frozen=True)
class ScalingPoint:
    """What one training-set size's results hold (``hscore.report.scaling`` reads it from a pair)."""

    n: int                      # training examples (scoring units: rows of a classification task)
    runs: int                   # R
    h: np.ndarray               # H per training example
    labels: np.ndarray          # class id per training example
    ticket: np.ndarray          # positions of the winning ticket
    ticket_name: str            # its subset name (remove-0-6)
    small: dict                 # subset name -> (label, positions) of the nested subsets below the share
    predictions: pd.DataFrame   # rows of PairResults.predictions (method, subset, seed, split, example_id, ...)
    class_names: tuple[str, ...]
    metric: str
    majority: float | None = None   # the validation score of a model that ignores its input (the training
                                    # set's majority class)


def size_table(points: list[ScalingPoint]) -> pd.DataFrame:
    """One row per N: the ticket's size and share, the share of every H value, and each class's share of
    the training set and of the ticket (in %)."""
    rows = []
    for p in points:
        row = {"N": p.n, "ticket": len(p.ticket), "ticket %": 100 * len(p.ticket) / p.n}
        counts = np.bincount(p.h, minlength=p.runs + 1)
        row.update({f"H={h} %": 100 * c / p.n for h, c in enumerate(counts)})
        for c, name in enumerate(p.class_names):
            row[f"{name} % of train"] = 100 * np.mean(p.labels == c)
            row[f"{name} % of ticket"] = 100 * np.mean(p.labels[p.ticket] == c) if len(p.ticket) else np.nan
            row[f"{name} kept %"] = 100 * np.sum(p.labels[p.ticket] == c) / max(np.sum(p.labels == c), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def _runs(p: ScalingPoint, split: str) -> dict:
    part = p.predictions[p.predictions["split"] == split]
    return {key: frame for key, frame in part.groupby(["method", "subset"])}


def difference_table(points: list[ScalingPoint], split: str = "validation") -> pd.DataFrame:
    """Per N and comparison of ``DIFFERENCES`` (those whose two arms were run): both scores, A - B, the
    95% bootstrap interval, the verdict, the seeds and whether they were paired."""
    rows = []
    for p in points:
        runs = _runs(p, split)
        for name, (a, b) in DIFFERENCES.items():
            a, b = (tuple(p.ticket_name if s == "ticket" else s for s in arm) for arm in (a, b))
            if a in runs and b in runs:
                c = compare(runs[a], runs[b], p.metric)
                rows.append({"N": p.n, "comparison": name, "A score": c.a, "B score": c.b, "A - B": c.diff,
                             "95% CI low": c.low, "95% CI high": c.high, "verdict": c.verdict,
                             "seeds A": runs[a]["seed"].nunique(), "seeds B": runs[b]["seed"].nunique(),
                             "paired seeds": c.paired_seeds, "majority": p.majority})
    return pd.DataFrame(rows, columns=["N", "comparison", "A score", "B score", "A - B", "95% CI low", "95% CI high",
                                       "verdict", "seeds A", "seeds B", "paired seeds", "majority"])


def at_majority(differences: pd.DataFrame) -> list[int]:
    """The sizes N at which the ticket's runs score as a model that ignores its input (within
    ``AT_MAJORITY`` points of the majority class): too few updates to learn anything."""
    rows = differences[(differences["comparison"] == "ticket - full") & differences["majority"].notna()]
    return [int(n) for n, a, m in zip(rows["N"], rows["A score"], rows["majority"]) if abs(a - m) <= AT_MAJORITY]


def small_table(points: list[ScalingPoint], split: str = "validation") -> pd.DataFrame:
    """Per N, each nested subset below the share that was trained: its size and share, and its score
    against random subsets of its size (A - B with the 95% interval)."""
    rows = []
    for p in points:
        runs = _runs(p, split)
        for subset, (label, positions) in p.small.items():
            a, b = ("hscore", subset), ("random", subset)
            if a in runs and b in runs:
                c = compare(runs[a], runs[b], p.metric)
                rows.append({"N": p.n, "subset": subset, "kept H": label, "size": len(positions),
                             "% of N": 100 * len(positions) / p.n, "H-score": c.a, "random": c.b, "A - B": c.diff,
                             "95% CI low": c.low, "95% CI high": c.high, "verdict": c.verdict,
                             "seeds": runs[a]["seed"].nunique(),
                             "both at majority": p.majority is not None and max(abs(c.a - p.majority),
                                                                                abs(c.b - p.majority)) <= AT_MAJORITY})
    return pd.DataFrame(rows, columns=["N", "subset", "kept H", "size", "% of N", "H-score", "random", "A - B",
                                       "95% CI low", "95% CI high", "verdict", "seeds", "both at majority"])


def crossover(differences: pd.DataFrame) -> int | None:
    """N*: the smallest N from which on (at it and at every larger N measured) the ticket is within noise of
    full data or better (the interval of ticket - full reaches zero or above) and above random (ticket -
    random > 0); None when the largest N measured does not satisfy both."""
    ns = sorted(differences["N"].unique())
    ok = {}
    for n in ns:
        rows = differences[differences["N"] == n].set_index("comparison")
        if not {"ticket - full", "ticket - random"} <= set(rows.index):
            ok[n] = False
            continue
        ok[n] = bool(rows.loc["ticket - full", "95% CI high"] >= 0 and rows.loc["ticket - random", "A - B"] > 0)
    found = None
    for n in reversed(ns):
        if not ok[n]:
            break
        found = n
    return found


@dataclass(frozen=True)
class Trend:
    """share (%) = intercept + slope x log10(N), least squares over the measured sizes."""

    intercept: float
    slope: float                  # percentage points per tenfold N
    slope_low: float              # its 95% interval (Student's t, n - 2 degrees of freedom)
    slope_high: float
    points: int
    log_mean: float               # mean of log10 N over the points
    sxx: float                    # sum of squared deviations of log10 N
    residual_sd: float
    low_n: int
    high_n: int

    def predict(self, n: float) -> tuple[float, float, float]:
        """The fitted share at ``n`` and the 95% interval of the line there, each clipped to [0, 100]."""
        x = math.log10(n)
        fit = self.intercept + self.slope * x
        half = _t95(self.points - 2) * self.residual_sd * math.sqrt(1 / self.points + (x - self.log_mean) ** 2
                                                                    / self.sxx)
        clip = lambda v: min(100.0, max(0.0, v))
        return clip(fit), clip(fit - half), clip(fit + half)

    def extrapolates(self, n: float) -> bool:
        return not self.low_n <= n <= self.high_n


def _t95(df: int) -> float:
    return T95[df - 1] if 1 <= df <= len(T95) else 1.96


def share_trend(n: np.ndarray, share: np.ndarray) -> Trend | None:
    """The least-squares line of ``share`` (%) in log10 ``n``; None with fewer than 3 sizes (no interval)."""
    x, y = np.log10(np.asarray(n, dtype=float)), np.asarray(share, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0:
        return None
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * xm)
    residual = y - (intercept + slope * x)
    sd = float(math.sqrt((residual ** 2).sum() / (len(x) - 2)))
    half = _t95(len(x) - 2) * sd / math.sqrt(sxx)
    return Trend(intercept, slope, slope - half, slope + half, len(x), float(xm), sxx, sd, int(np.min(n)),
                 int(np.max(n)))


def after_peak(sizes: pd.DataFrame) -> tuple[int | None, Trend | None]:
    """Where the ticket's share turns (the N of its largest share, when that is neither the smallest nor the
    largest N) and the line of the branch from there on (None with fewer than 3 sizes); (None, None) when
    the share is monotone enough to peak at an end."""
    ns, share = sizes["N"].to_numpy(), sizes["ticket %"].to_numpy()
    top = int(np.argmax(share))
    if not 0 < top < len(ns) - 1:
        return None, None
    return int(ns[top]), share_trend(ns[top:], share[top:])


def vanished_classes(sizes: pd.DataFrame, class_names) -> dict[str, list[int]]:
    """Per class, the sizes N at which the ticket holds none of it."""
    return {name: [int(n) for n, share in zip(sizes["N"], sizes[f"{name} % of ticket"]) if share == 0]
            for name in class_names}


def _predictions(trend: Trend, at: dict[str, int]) -> str:
    """``; it gives 73% at 11,477 (all of Rotten Tomatoes; 95% CI 16-100%, an extrapolation) and ...``."""
    preds = []
    for name, n in at.items():
        fit, low, high = trend.predict(n)
        preds.append(f"{fit:.0f}% at {n:,} ({name}; 95% CI {low:.0f}-{high:.0f}%"
                     + (", an extrapolation" if trend.extrapolates(n) else "") + ")")
    return "; it gives " + " and ".join(preds) if preds else ""


def _ci(row) -> str:
    return f"{row['A - B']:+.1f} points (95% CI {row['95% CI low']:+.1f} to {row['95% CI high']:+.1f})"


def _said(row) -> str:
    return {"higher": "higher, beyond noise", "lower": "lower, beyond noise",
            "within noise": "within noise"}[row["verdict"]]


def sentences(sizes: pd.DataFrame, differences: pd.DataFrame, small: pd.DataFrame, trend: Trend | None,
              class_names, at: dict[str, int], model: str, task: str, small_share: float | None) -> list[str]:
    """The chapter's findings, most important first: the crossover, the ticket's share and its trend, each
    comparison's direction over N, class shares, the small subsets. ``at``: sizes to predict the share at
    (``{"all of Rotten Tomatoes": 11477, "SST-2": 67349}``); ``small_share``: the share below which the
    nested subsets were trained against random (None: they were not)."""
    out = []
    ns = [int(n) for n in sizes["N"]]
    span = f"{ns[0]:,} to {ns[-1]:,}"
    star = crossover(differences)
    by = lambda name: differences[differences["comparison"] == name].set_index("N")
    full, rand, equal, eq_ticket = (by(name) for name in DIFFERENCES)
    if star is not None:
        r, q = full.loc[star], rand.loc[star]
        out.append(f"Crossover at N = {star:,}: from {star:,} training examples on, {model}'s winning ticket on {task} "
                   f"scores within noise of full data or better ({_ci(r)} at {star:,}) and above random subsets of "
                   f"its size ({_ci(q)}, {_said(q)}).")
    else:
        last = ns[-1]
        why = []
        if last in full.index and full.loc[last, "95% CI high"] < 0:
            why.append(f"it is below full data beyond noise at {last:,}: {_ci(full.loc[last])}")
        if last in rand.index and rand.loc[last, "A - B"] <= 0:
            why.append(f"it does not score above random subsets of its size at {last:,}: {_ci(rand.loc[last])}")
        out.append(f"No crossover up to {last:,} training examples: " + ("; and ".join(why) or "its comparisons are "
                   "missing at the largest N") + ".")
    shares = ", ".join(f"{s:.0f}%" for s in sizes["ticket %"])
    out.append(f"The ticket keeps {shares} of the training set at N = {', '.join(f'{n:,}' for n in ns)} (the paper: "
               "21-27% for its classification tasks at 67k-550k examples, RoBERTa-large).")
    share = sizes["ticket %"].to_numpy()
    peak, after = after_peak(sizes)
    if peak is not None:         # not monotone: where it turns, and the line of the branch after the turn
        top = ns.index(peak)
        text = (f"The share is not monotone in N: it is largest at N = {peak:,} ({share[top]:.0f}%) and "
                f"{'falls' if share[-1] < share[top] else 'stays'} to {share[-1]:.0f}% at {ns[-1]:,}")
        if after is not None:
            text += (f"; a line in log N over N >= {peak:,} alone gives {after.slope:+.1f} points per tenfold N "
                     f"(95% CI {after.slope_low:+.1f} to {after.slope_high:+.1f})" + _predictions(after, at))
        out.append(text + ".")
    if trend is not None:
        direction = ("falls" if trend.slope_high < 0 else "rises" if trend.slope_low > 0
                     else "shows no trend beyond noise")
        out.append(f"Fitted in log N over all {trend.points} sizes, the ticket's share {direction}: "
                   f"{trend.slope:+.1f} points per tenfold N (95% CI {trend.slope_low:+.1f} to {trend.slope_high:+.1f})"
                   + _predictions(trend, at) + f" ({model} on {task}; the paper's sizes belong to other models and "
                   "tasks).")
    h_values = [int(c.split("=")[1].split()[0]) for c in sizes.columns if c.startswith("H=")]
    if h_values:
        runs = max(h_values)
        never, always = sizes["H=0 %"], sizes[f"H={runs} %"]
        out.append(f"What is pruned moves with N: H = 0 (no run right in every epoch) holds "
                   f"{', '.join(f'{v:.0f}%' for v in never)} and H = {runs} (every run right in every epoch) "
                   f"{', '.join(f'{v:.0f}%' for v in always)} of the training set.")
    for table, what in ((full, "against full data"), (rand, "against random subsets of its size"),
                        (equal, "trained for as many updates as full data, against full data")):
        if table.empty:
            continue
        parts = "; ".join(f"{r['A - B']:+.1f} at {n:,} ({r['95% CI low']:+.1f} to {r['95% CI high']:+.1f}, "
                          f"{r['verdict']})" for n, r in table.iterrows())
        seeds = int(table["seeds A"].min())
        note = "" if seeds > 1 else " (one seed: the interval holds the examples' noise and full data's seeds', " \
                                    "not this arm's own seed noise)"
        out.append(f"The ticket {what}, points (95% CI): {parts}{note}.")
    if "majority" in differences:
        stuck = at_majority(differences)
        if stuck:
            out.append(f"At N = {', '.join(f'{n:,}' for n in stuck)} the ticket's runs score as the majority class "
                       f"({differences['majority'].dropna().iloc[0]:.1f}): trained on so few examples they learned "
                       "nothing, so there its comparisons say nothing about which examples it kept.")
    if not eq_ticket.empty:
        higher = [f"{n:,} ({_ci(r)})" for n, r in eq_ticket.iterrows() if r["verdict"] == "higher"]
        lower = [f"{n:,} ({_ci(r)})" for n, r in eq_ticket.iterrows() if r["verdict"] == "lower"]
        text = "Training the ticket for full data's number of updates instead of its own (equal steps - ticket)"
        if not higher and not lower:
            text += (" changes its score beyond noise at no N: as far as these runs tell, the gap to full data is "
                     "less data, not fewer updates.")
        else:
            parts = []
            if higher:
                parts.append(f"raises it beyond noise at N = {', '.join(higher)}: there fewer updates explain part "
                             "of the gap")
            if lower:
                parts.append(f"lowers it beyond noise at N = {', '.join(lower)}: there the extra epochs over the same "
                             "examples hurt, so the gap is not fewer updates")
            text += " " + "; it ".join(parts) + "."
        out.append(text)
    vanished = vanished_classes(sizes, class_names)
    for name in class_names:
        kept = ", ".join(f"{s:.0f}%" for s in sizes[f"{name} % of ticket"])
        train = sizes[f"{name} % of train"].mean()
        gone = vanished[name]
        after = [n for n in ns if n > max(gone)] if gone else []
        shift = sizes[f"{name} % of ticket"] - sizes[f"{name} % of train"]
        worst = int(np.argmax(np.abs(shift.to_numpy())))
        kept += f" (furthest from its share at N = {ns[worst]:,}: {shift.iloc[worst]:+.0f} points)"
        out.append(f"Class {name} is {train:.0f}% of every training set and {kept} of the ticket"
                   + (f"; the ticket holds none of it at N = {', '.join(f'{n:,}' for n in gone)}"
                      + (f", and keeps it from N = {after[0]:,} on." if after else ".") if gone
                      else "; no N drops it."))
    if small_share is None:
        return out
    below = f"{100 * small_share:.0f}%"
    if not small.empty:
        lower = small[small["verdict"] == "lower"]
        higher = small[small["verdict"] == "higher"]
        out.append(f"At {below} of the training set or less, {len(small)} nested subsets were trained over N = {span}: "
                   f"{len(lower)} score below random subsets of their size beyond noise, {len(higher)} above, "
                   f"{len(small) - len(lower) - len(higher)} within noise (mean H-score - random "
                   f"{small['A - B'].mean():+.1f} points; {int(small['both at majority'].sum())} of them with both "
                   "arms at the majority class).")
    else:
        out.append(f"No nested subset held {below} of the training set or less at any N: nothing to compare with "
                   "random there.")
    return out
