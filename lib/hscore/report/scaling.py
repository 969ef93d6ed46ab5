"""The chapter *How the ticket changes with the size of the data*: one model on nested training sets.

Reads the pairs of a profile that train one model on the same data at several training-set sizes
(the ``scaling`` profile: tasks named after one built-in task's data, ``data_of``, each with its own
``train_cap``), computes with ``hscore.analysis.scaling`` and shows: the sentences (the crossover N*
first), the ticket's share against N beside the paper's tickets, the H histogram per N, the three
comparisons against N with their intervals, each class's share of the ticket, and the nested subsets
below the share against random. Nothing here trains or writes a file.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from .. import config
from ..analysis import scaling
from ..analysis.tables import paper_results
from ..data import get_task
from ..study.plan import small_subsets, small_too_large
from ..study.results import PairResults
from .display import readable
from .plots import show

PREDICT_AT = {"all of Rotten Tomatoes": 11_477, "SST-2's size": 67_349}   # where the chapter reads the fitted share
COLORS = {"ticket - full": "#c0392b", "ticket - random": "#2471a3", "equal steps - full": "#7d3c98",
          "equal steps - ticket": "#7f8c8d"}


def scaling_configs(profile: str) -> list:
    """The profile's pairs that train one model on one task's data at several sizes (``scaling.scaling_of``)."""
    return scaling.scaling_of(config.profile_configs(profile))


def point(pair: PairResults) -> scaling.ScalingPoint:
    """What one size's results hold, for ``hscore.analysis.scaling``."""
    cfg = pair.cfg
    task = get_task(cfg.task, cfg.declared)
    subsets, scores = pair.subsets(), pair.scores()
    ticket = subsets.winning_ticket
    labels = {spec.name: spec.label for spec in subsets.specs}
    small = {name: (labels[name], subsets.positions("hscore", name, 0)) for name in small_subsets(cfg)
             if not small_too_large(cfg, subsets, name)}
    return scaling.ScalingPoint(n=subsets.n_full, runs=cfg.runs, h=scores["h"].to_numpy(),
                                labels=scores["label"].to_numpy(), ticket=subsets.positions("hscore", ticket.name, 0),
                                ticket_name=ticket.name, small=small, predictions=pair.predictions(),
                                class_names=tuple(task.label_names), metric=task.metric,
                                majority=pair.phase1_info()["trivial"].get("validation", {}).get(task.metric))


def _measured(cfgs: list) -> dict | None:
    """Everything the chapter and the README's answer read from the sizes ``cfgs`` (``scaling_configs``),
    or None while a size's selection is missing."""
    pairs = [PairResults(c) for c in cfgs]
    if not pairs or not all(p.runs["select"].done for p in pairs):
        return None
    points = [point(p) for p in pairs]
    sizes = scaling.size_table(points)
    differences = scaling.difference_table(points)
    small = scaling.small_table(points)
    trend = scaling.share_trend(sizes["N"].to_numpy(), sizes["ticket %"].to_numpy())
    first = cfgs[0]
    at = dict(list(PREDICT_AT.items())[0 if scaling.data_of(first) == "rotten_tomatoes" else 1:])
    share = first.small_subsets.share if first.small_subsets else None
    lines = scaling.sentences(sizes, differences, small, trend, points[0].class_names, at, first.model,
                              scaling.data_of(first), share)
    return {"cfgs": cfgs, "points": points, "sizes": sizes, "differences": differences, "small": small,
            "trend": trend, "at": at, "sentences": lines}


def answer(profile: str) -> list[tuple[str, list[str]]]:
    """The chapter's sentences when every size is scored (the README's answer for the profile)."""
    cfgs = scaling_configs(profile)
    if not cfgs:
        return []
    m = _measured(cfgs)
    if m is None:
        return []
    first = cfgs[0]
    sizes = ", ".join(f"{n:,}" for n in m["sizes"]["N"])
    return [(f"{first.model} / {scaling.data_of(first)} at N = {sizes}", m["sentences"])]


def plot_share(sizes: pd.DataFrame, trend, paper: pd.DataFrame, name: str, title: str):
    """The ticket's share of the training set against N (log x), the fitted line and its band, and the
    paper's tickets at their tasks' sizes (another model)."""
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    ax.plot(sizes["N"], sizes["ticket %"], "o-", color="#c0392b", label=f"this study ({name})")
    for n, share in zip(sizes["N"], sizes["ticket %"]):
        ax.annotate(f"{share:.0f}%", (n, share), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8)
    right = max(sizes["N"].max(), paper["N"].max() if not paper.empty else 0) * 1.3
    if trend is not None:
        xs = np.logspace(np.log10(sizes["N"].min()), np.log10(right), 80)
        fits = np.array([trend.predict(x) for x in xs])
        inside = xs <= sizes["N"].max()
        ax.plot(xs[inside], fits[inside, 0], color="#c0392b", alpha=0.5, linewidth=1)
        ax.plot(xs[~inside], fits[~inside, 0], color="#c0392b", alpha=0.5, linewidth=1, linestyle="--",
                label="fitted line (dashed: extrapolated)")
        ax.fill_between(xs, fits[:, 1], fits[:, 2], color="#c0392b", alpha=0.12, linewidth=0)
    peak, after = scaling.after_peak(sizes)
    if after is not None:
        xs = np.logspace(np.log10(peak), np.log10(right), 60)
        fits = np.array([after.predict(x) for x in xs])
        ax.plot(xs, fits[:, 0], color="#7d3c98", linewidth=1, linestyle="-.",
                label=f"line over N >= {peak:,}, after the turn (extrapolated beyond {sizes['N'].max():,})")
        ax.fill_between(xs, fits[:, 1], fits[:, 2], color="#7d3c98", alpha=0.10, linewidth=0)
    if not paper.empty:
        ax.scatter(paper["N"], paper["ticket %"], marker="s", color="#34495e", zorder=3,
                   label="the paper (RoBERTa-large; another model and task)")
        for _, r in paper.iterrows():
            ax.annotate(r["task"], (r["N"], r["ticket %"]), xytext=(4, -10), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("training examples N (log scale)")
    ax.set_ylabel("winning ticket, % of the training set")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    fig.tight_layout()
    return fig


def plot_h_shares(sizes: pd.DataFrame, runs: int, title: str):
    """Stacked shares of every H value per N: the ticket is everything but H = 0 and H = R."""
    fig, ax = plt.subplots(figsize=(6.6, 3.6))
    labels = [f"{n:,}" for n in sizes["N"]]
    bottom = np.zeros(len(sizes))
    colors = plt.get_cmap("RdYlBu")(np.linspace(0.05, 0.95, runs + 1))
    for h in range(runs + 1):
        values = sizes[f"H={h} %"].to_numpy()
        ax.bar(labels, values, bottom=bottom, color=colors[h], edgecolor="white", linewidth=0.5,
               label=f"H = {h}" + (" (pruned)" if h in (0, runs) else ""))
        bottom += values
    ax.set_ylabel("% of the training set")
    ax.set_xlabel("training examples N")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def _n_axis(ax, ns) -> None:
    """A log x axis labelled at the measured sizes."""
    ax.set_xscale("log")
    ax.set_xticks(list(ns), [f"{n:,}" for n in ns])
    ax.minorticks_off()


def plot_differences(differences: pd.DataFrame, title: str):
    """Each comparison's difference against N with its 95% interval; zero is no difference."""
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    names = [n for n in scaling.DIFFERENCES if n != "equal steps - ticket" and n in set(differences["comparison"])]
    offsets = dict(zip(names, np.linspace(-0.04, 0.04, max(len(names), 1))))
    for name in names:
        rows = differences[differences["comparison"] == name]
        x = rows["N"].to_numpy() * 10 ** offsets[name]
        y = rows["A - B"].to_numpy()
        err = np.vstack([y - rows["95% CI low"].to_numpy(), rows["95% CI high"].to_numpy() - y])
        ax.errorbar(x, y, yerr=err, fmt="o-", color=COLORS[name], capsize=3, markersize=4, linewidth=1, label=name)
    ax.axhline(0, color="#7b7d7d", linestyle=":", linewidth=1)
    _n_axis(ax, sorted(differences["N"].unique()))
    ax.set_xlabel("training examples N (log scale)")
    ax.set_ylabel("difference, points of accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_classes(sizes: pd.DataFrame, class_names, title: str):
    """Each class's share of the ticket against N; dotted, its share of the training set."""
    fig, ax = plt.subplots(figsize=(6.6, 3.4))
    colors = plt.get_cmap("tab10")
    for c, name in enumerate(class_names):
        ax.plot(sizes["N"], sizes[f"{name} % of ticket"], "o-", color=colors(c), label=f"{name}, in the ticket")
        ax.plot(sizes["N"], sizes[f"{name} % of train"], ":", color=colors(c), label=f"{name}, in the training set")
    _n_axis(ax, sizes["N"])
    ax.set_ylim(0, 100)
    ax.set_xlabel("training examples N (log scale)")
    ax.set_ylabel("% of the set")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    return fig


def _paper_points() -> pd.DataFrame:
    paper = paper_results()
    paper = paper[paper["task"].isin(["sst2", "mnli", "snli"])].drop_duplicates("task")
    return pd.DataFrame({"task": paper["task"].to_numpy(), "ticket %": paper["ticket_pct"].to_numpy(dtype=float),
                         "N": [scaling.PAPER_TRAIN_EXAMPLES[t] for t in paper["task"]]})


def show_scaling(profile: str) -> None:
    cfgs = scaling_configs(profile)
    if not cfgs:
        display(Markdown("*No pair of this profile trains one model on the same data at several sizes.*"))
        return
    m = _measured(cfgs)
    if m is None:
        display(Markdown("*The scoring runs of every size are not all done yet.*"))
        return
    sizes, differences, small, trend, points = m["sizes"], m["differences"], m["small"], m["trend"], m["points"]
    first, runs = cfgs[0], points[0].runs
    name = f"{first.model} / {scaling.data_of(first)}"
    display(Markdown("\n".join(f"- {line}" for line in m["sentences"])))

    display(Markdown("### The ticket's size"))
    paper = _paper_points()
    smallest, largest = sizes.iloc[0], sizes.iloc[-1]
    caption = (f"The winning ticket holds {smallest['ticket %']:.0f}% of {int(smallest['N']):,} examples and "
               f"{largest['ticket %']:.0f}% of {int(largest['N']):,}; the paper's tickets (squares, RoBERTa-large on "
               f"{', '.join(paper['task'])}) hold {paper['ticket %'].min():.0f}-{paper['ticket %'].max():.0f}% at "
               f"{paper['N'].min():,}-{paper['N'].max():,}.")
    peak, after = scaling.after_peak(sizes)
    if after is not None:
        fit, low, high = after.predict(67_349)
        caption += (f" The share turns at N = {peak:,}; the dash-dotted line is fitted from there on and reaches "
                    f"{fit:.0f}% (95% CI {low:.0f}-{high:.0f}%) at 67,349, SST-2's size.")
    if trend is not None:
        caption += (f" The solid line is fitted in log N over every N ({trend.slope:+.1f} points per tenfold N, 95% CI "
                    f"{trend.slope_low:+.1f} to {trend.slope_high:+.1f}); beyond {int(largest['N']):,} it is an "
                    "extrapolation, and the paper's points are another model on other tasks.")
    show(plot_share(sizes, trend, paper, name, f"{name}: the winning ticket against the size of the data"), caption,
         "Line chart of the ticket's share of the training set against the number of training examples.")
    h0, hr = sizes["H=0 %"], sizes[f"H={runs} %"]
    show(plot_h_shares(sizes, runs, f"{name}: H per training-set size"),
         f"Every training example's H (runs, of {runs}, that got it right in every epoch) as shares per N. "
         f"The pruned ends: H = {runs} (always right) goes from {hr.iloc[0]:.0f}% to {hr.iloc[-1]:.0f}%, "
         f"H = 0 (never right in every epoch) goes from {h0.iloc[0]:.0f}% to {h0.iloc[-1]:.0f}%.",
         "Stacked bar chart of the share of each H value per training-set size.")
    display(readable(sizes[["N", "ticket", "ticket %", *[f"H={h} %" for h in range(runs + 1)]]]).set_index("N"))

    display(Markdown("### The ticket against full data, random subsets and more updates"))
    examples = points[0].predictions.query("split == 'validation'")["example_id"].nunique()
    full_is = (f"the {first.runs} scoring runs (phase 1 and phase 2 share every setting but the seeds, so these are "
               "the paper's own full-data figures: `phase2_full: false`)" if not first.phase2_full else
               f"trained in phase 2 with its {len(first.phase2.seeds)} seeds")
    display(Markdown(
        f"Full data is {full_is}; the ticket and random subsets of its size are trained with "
        f"{len(first.phase2.seeds)} phase-2 seeds; *equal steps* is the ticket trained for as many optimizer updates "
        f"as full data (more epochs over fewer examples; {first.equal_steps} seed{'s' if first.equal_steps > 1 else ''}"
        f"). Intervals: 95%, a bootstrap over seeds and the {examples} validation examples (unpaired seeds where the "
        "two arms were trained with other seeds)."))
    if not differences.empty:
        last = differences[differences["N"] == differences["N"].max()].set_index("comparison")
        parts = "; ".join(f"{c} {r['A - B']:+.1f} ({r['95% CI low']:+.1f} to {r['95% CI high']:+.1f})"
                          for c, r in last.iterrows() if c != "equal steps - ticket")
        show(plot_differences(differences, f"{name}: differences against N"),
             f"Above zero the first arm scores higher. At N = {int(differences['N'].max()):,}: {parts} points. "
             "Bars are 95% intervals; where a bar crosses zero the data say nothing about the sign.",
             "Line chart with error bars of three score differences against the number of training examples.")
        shown = differences.drop(columns=["paired seeds", "majority"]).rename(columns={"A - B": "difference"})
        display(readable(shown).set_index(["N", "comparison"]))

    display(Markdown("### Classes"))
    classes = points[0].class_names
    show(plot_classes(sizes, classes, f"{name}: each class's share of the ticket"),
         "Solid: each class's share of the winning ticket; dotted: of the training set (stratified, so flat). "
         + " ".join(f"{c}: {sizes[f'{c} % of ticket'].min():.0f}-{sizes[f'{c} % of ticket'].max():.0f}% of the "
                    f"ticket, {sizes[f'{c} kept %'].min():.0f}-{sizes[f'{c} kept %'].max():.0f}% of the class kept."
                    for c in classes),
         "Line chart of each class's share of the ticket against the number of training examples.")
    display(readable(sizes[["N", *[f"{c} {w}" for c in classes for w in ("% of train", "% of ticket", "kept %")]]])
            .set_index("N"))

    if first.small_subsets is not None:
        share = 100 * first.small_subsets.share
        display(Markdown(f"### The nested subsets at {share:.0f}% or less, against random"))
        if small.empty:
            display(Markdown(f"*No nested subset held {share:.0f}% of the training set or less at any N.*"))
        else:
            display(Markdown(f"Each nested subset (H a..{runs - 1}) holding {share:.0f}% of its training set or "
                             f"less, trained with {first.small_subsets.seeds} seed beside random subsets of its size "
                             "(Ayed and Hayou 2023: below 30%, score-based pruning loses to random):"))
            display(readable(small).set_index(["N", "subset"]))

