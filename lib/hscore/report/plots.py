"""The book's figures: each ``plot_*`` takes result tables (never trains) and returns a Figure; ``show``
displays one with its caption (what to see, with the numbers) and alt text, as every figure of the book
is shown, at ``DPI``. One colour and marker per method across the book (``METHOD_STYLE``, from the
baseline registry)."""

from __future__ import annotations

import base64
import html
import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import HTML, display

from ..analysis.tables import FULL_COLUMNS, METHOD_LABELS, baseline_columns
from ..pruning.methods import METHODS
from ..pruning.scores import h_histogram

METHOD_STYLE = {m.name: (m.color, m.marker) for m in METHODS.values() if m.color}  # colour, marker: a view of METHODS


DPI = 160
MAJORITY_STYLE = {"color": "#7b7d7d", "linestyle": ":", "linewidth": 1.2}   # a model that ignores its input


def show(fig, caption: str, alt: str) -> None:
    """Display ``fig`` as a captioned figure (PNG at ``DPI`` inline, ``alt`` for its text alternative),
    then close it; in the book the caption sits under the figure as in a report."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    display(HTML(f'<figure class="hscore-figure"><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
                 f'style="max-width:100%;height:auto"><figcaption>{html.escape(caption)}</figcaption></figure>'))


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def show_h_histogram(scores: pd.DataFrame, runs: int, epochs: int, title: str) -> None:
    """The H histogram, captioned with what is kept and what is pruned."""
    counts = h_histogram(scores["h"].to_numpy(), runs)
    n, kept = int(counts.sum()), int(counts.loc[1:runs - 1].sum())
    show(plot_h_histogram(scores, runs, title),
         f"{title}. The {n} training rows by H-score, the number of the {runs} scoring runs in which a row was "
         f"right in all {epochs} epochs. The winning ticket keeps the {kept} ({_pct(kept, n)}) with H from 1 to "
         f"{runs - 1} (red); pruned are the {counts[runs]} ({_pct(counts[runs], n)}) right in every epoch of every "
         f"run (H = {runs}) and the {counts[0]} ({_pct(counts[0], n)}) right in every epoch of no run (H = 0).",
         f"Bar chart of training rows per H-score from 0 to {runs}; "
         + ", ".join(f"H = {h}: {c}" for h, c in counts.items()) + ".")


def show_data_map(scores: pd.DataFrame, runs: int, title: str) -> None:
    """The data map, captioned with where the two pruned ends sit."""
    by_h = scores.groupby("h")[["confidence", "variability"]].mean()
    ends = [f"H = {h}: confidence {by_h.loc[h, 'confidence']:.2f}, variability {by_h.loc[h, 'variability']:.2f}"
            for h in (runs, 0) if h in by_h.index]
    show(plot_data_map(scores, runs, title),
         f"{title}. Every training row at its confidence (mean probability of its gold target over all checks) "
         f"and variability (their standard deviation), coloured by H-score. Mean of the pruned ends: "
         + "; ".join(ends) + ". The winning ticket (H from 1 to " + f"{runs - 1}) fills the space between.",
         f"Scatter plot of confidence against variability for {len(scores)} training rows, coloured by H-score.")


def _h_palette(runs: int):
    return dict(zip(range(runs + 1), sns.color_palette("viridis", runs + 1)))


def plot_h_histogram(scores: pd.DataFrame, runs: int, title: str = ""):
    """Training examples per H value; the winning ticket's H values (1..R-1) highlighted."""
    counts = h_histogram(scores["h"].to_numpy(), runs)
    n = counts.sum()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    colors = ["#c0392b" if 0 < h < runs else "#bdc3c7" for h in counts.index]
    bars = ax.bar(counts.index, counts.values, color=colors, edgecolor="black", linewidth=0.5)
    for bar, c in zip(bars, counts.values):
        ax.annotate(f"{c}\n({100 * c / n:.0f}%)", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(counts.index)
    ax.set_xlabel(f"H-score (runs of {runs} in which the example was right in every epoch)")
    ax.set_ylabel("training examples")
    ax.set_ylim(0, counts.max() * 1.25)
    kept = counts.loc[1:runs - 1].sum()
    handles = [plt.Rectangle((0, 0), 1, 1, color="#c0392b"), plt.Rectangle((0, 0), 1, 1, color="#bdc3c7")]
    ax.legend(handles, [f"winning ticket: {kept} ({100 * kept / n:.0f}%)", "pruned (H = 0 or H = R)"],
              loc="upper center", fontsize=8, frameon=False)
    ax.set_title(title or "H-score histogram")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_data_map(scores: pd.DataFrame, runs: int, title: str = ""):
    """Dataset-Cartography data map: variability vs confidence, one point per example, coloured by H."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    sns.scatterplot(data=scores, x="variability", y="confidence", hue="h", palette=_h_palette(runs),
                    hue_order=list(range(runs + 1)), s=12, alpha=0.75, linewidth=0, ax=ax)
    ax.set_xlabel("variability (std of gold-label probability over runs x epochs)")
    ax.set_ylabel("confidence (mean gold-label probability)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(title="H", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=1.5)
    ax.set_title(title or "Data map")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_tradeoff(table: pd.DataFrame, split: str, metric: str = "accuracy", title: str = "",
                  majority: float | None = None):
    """Score vs training-set size for H-score subsets and size-matched baselines, full data as a line,
    the majority class as a dotted one. Points of one method are joined only where there are three or
    more (two points would suggest a curve that was not measured).

    ``table`` is ``summary.tradeoff_table`` (mean and sd over phase-2 seeds); ``metric`` picks its rows."""
    part = table[(table["split"] == split) & (table["metric"] == metric)]
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    full = part[part["method"] == "full"]
    if len(full):
        m, s = full["mean"].iloc[0], full["std"].iloc[0]
        ax.axhline(m, color="black", linestyle="--", linewidth=1, label=f"full data ({m:.1f})")
        if s > 0:
            ax.axhspan(m - s, m + s, color="black", alpha=0.08)
    if majority is not None:
        ax.axhline(majority, **MAJORITY_STYLE, label=f"majority class ({majority:.1f})")
    for method, (color, marker) in METHOD_STYLE.items():
        rows = part[part["method"] == method].sort_values("fraction")
        if rows.empty:
            continue
        ax.errorbar(100 * rows["fraction"], rows["mean"], yerr=rows["std"] if rows["std"].any() else None,
                    color=color, marker=marker, linestyle=("-" if method == "hscore" else ":") if len(rows) > 2
                    else "none", capsize=3, label=METHOD_LABELS[method])
        if method == "hscore":
            for _, r in rows.iterrows():
                ax.annotate(r["kept"], (100 * r["fraction"], r["mean"]), textcoords="offset points",
                            xytext=(5, -10), fontsize=8, color=color, annotation_clip=False)
    ax.set_xlim(0, 105)
    ax.set_xlabel("training examples (% of the full training set)")
    ax.set_ylabel(f"{split} {metric.replace('_', ' ')} (%)")
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title or f"Size vs {metric}")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def show_tradeoff(table: pd.DataFrame, split: str, metric: str, title: str, majority: float | None = None) -> None:
    """Size against score, captioned with the winning ticket against full data and the majority class."""
    part = table[(table["split"] == split) & (table["metric"] == metric)]
    ours = part[part["method"] == "hscore"].sort_values("fraction")
    full = part[part["method"] == "full"]
    words = [f"{title}: {split} {metric.replace('_', ' ')} after fine-tuning on each training subset, against "
             f"its share of the training set; mean and standard deviation over "
             f"{int(part['seeds'].max()) if 'seeds' in part else 1} seed(s)."]
    if len(full):
        words.append(f"Dashed: full data, {full['mean'].iloc[0]:.1f}.")
    if majority is not None:
        words.append(f"Dotted: the majority class, {majority:.1f}.")
    if len(ours):
        ticket = ours.iloc[-1]
        words.append(f"The winning ticket ({100 * ticket['fraction']:.0f}% of the data) scores {ticket['mean']:.1f}"
                     + (f", the smallest H-score subset ({ours.iloc[0]['kept']}, {100 * ours.iloc[0]['fraction']:.0f}%)"
                        f" {ours.iloc[0]['mean']:.1f}." if len(ours) > 1 else "."))
    show(plot_tradeoff(table, split, metric, title, majority), " ".join(words),
         f"Scatter plot of {split} {metric} against training-set size for "
         + ", ".join(METHOD_LABELS[m] for m in METHOD_STYLE if m != "full" and m in set(part["method"])) + ".")


def plot_winning_tickets(summary: pd.DataFrame, majority: dict | None = None):
    """Per pair and split: full data (phase-1 runs and phase-2 settings), the winning ticket and every
    baseline at the ticket's size, in each task's headline metric, as points with their standard
    deviation over seeds (runs, for the phase-1 column); a dotted segment marks the majority class
    (``majority``: (model, task, split) -> score)."""
    cols = [*FULL_COLUMNS, "winning ticket", *baseline_columns(summary)]
    styles = {FULL_COLUMNS[0]: ("#17202a", "s"), FULL_COLUMNS[1]: ("#5d6d7e", "D"),
              "winning ticket": METHOD_STYLE["hscore"], **{b: METHOD_STYLE[b] for b in baseline_columns(summary)}}
    fig, ax = plt.subplots(figsize=(max(6.4, 2.6 * summary.shape[0]), 4.2))
    width = 0.8 / len(cols)
    for i, (_, row) in enumerate(summary.iterrows()):
        for j, col in enumerate(cols):
            color, marker = styles[col]
            x = i - 0.4 + width * (j + 0.5)
            ax.errorbar(x, row[col], yerr=row.get(f"{col} sd", 0) or 0, color=color, marker=marker, capsize=3,
                        linestyle="none", label=(METHOD_LABELS.get(col, col) if i == 0 else None))
        level = (majority or {}).get((row["model"], row["task"], row["split"]))
        if level is not None:
            ax.hlines(level, i - 0.45, i + 0.45, **MAJORITY_STYLE, label="majority class" if i == 0 else None)
    ax.set_xticks(range(len(summary)), [f"{m} / {t}\n{s}" for m, t, s in zip(summary["model"], summary["task"],
                                                                              summary["split"])])
    ax.set_ylabel("evaluation score (%): accuracy, or F1 for QA")
    ax.legend(fontsize=8, frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.22))
    sns.despine(fig)
    fig.tight_layout()
    return fig


def show_winning_tickets(summary: pd.DataFrame, majority: dict | None = None) -> None:
    """The summary figure, captioned with each pair's ticket against full data."""
    lines = [f"{r['model']} / {r['task']}: ticket {r['ticket % of full']:.0f}% of the data, "
             f"{r['winning ticket']:.1f} against {r['full data (phase-2 settings)']:.1f}"
             for _, r in summary.iterrows()]
    show(plot_winning_tickets(summary, majority),
         "The winning ticket against full data and the baselines of its size, per pair: mean and standard "
         "deviation over phase-2 seeds (over the R scoring runs for the phase-1 column); dotted, the majority "
         "class. " + "; ".join(lines) + ".",
         "Point plot of evaluation scores per pair for full data, the winning ticket and its baselines.")


def plot_membership(scores: pd.DataFrame, chosen: dict[str, np.ndarray], title: str = ""):
    """The data map once per method (``chosen``: method label -> kept positions, all of one size):
    the examples each keeps in colour, the rest in grey."""
    n = len(chosen)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), sharex=True, sharey=True, squeeze=False)
    x, y = scores["variability"].to_numpy(), scores["confidence"].to_numpy()
    for ax, (name, positions) in zip(axes.flat, chosen.items()):
        kept = np.zeros(len(scores), dtype=bool)
        kept[positions] = True
        ax.scatter(x[~kept], y[~kept], s=5, color="#d5d8dc", linewidth=0)
        ax.scatter(x[kept], y[kept], s=5, color="#c0392b", linewidth=0)
        ax.set_title(f"{name} ({kept.sum()})", fontsize=9)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("variability")
    for ax in axes[:, 0]:
        ax.set_ylabel("confidence")
    fig.suptitle(title or "What each method keeps", fontsize=10)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def show_membership(scores: pd.DataFrame, chosen: dict[str, np.ndarray], title: str) -> None:
    """What each method keeps, captioned with where on the data map each subset sits."""
    conf = scores["confidence"].to_numpy()
    where = "; ".join(f"{name} {conf[p].mean():.2f}" for name, p in chosen.items())
    show(plot_membership(scores, chosen, title),
         f"{title}: each method's subset (red) among the {len(scores)} training rows (grey) on the data map. "
         f"Mean confidence of what each keeps: {where} (the whole set: {conf.mean():.2f}).",
         f"Small-multiple scatter plots of the data map, one per method ({', '.join(chosen)}), kept rows in red.")


def plot_forest(table: pd.DataFrame, title: str = ""):
    """Every comparison of ``hscore.analysis.tables.comparison_table`` as a point (A - B) with its 95%
    interval; a vertical line at 0: an interval that crosses it is within noise."""
    rows = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(rows) + 1.2))
    y = np.arange(len(rows))
    beyond = (rows["95% CI low"] > 0) | (rows["95% CI high"] < 0)
    ax.errorbar(rows["A - B"], y, xerr=[rows["A - B"] - rows["95% CI low"], rows["95% CI high"] - rows["A - B"]],
                linestyle="none", marker="o", color="#7b7d7d", capsize=2)
    ax.scatter(rows["A - B"][beyond], y[beyond.to_numpy()], color=METHOD_STYLE["hscore"][0], zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [f"{a} vs {b} ({s})" for a, b, s in zip(rows["A"], rows["B"], rows["split"])], fontsize=8)
    ax.set_xlabel("difference A - B, points (95% bootstrap interval)")
    ax.set_title(title)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def show_forest(table: pd.DataFrame, title: str) -> None:
    beyond = int(((table["95% CI low"] > 0) | (table["95% CI high"] < 0)).sum())
    show(plot_forest(table, title),
         f"{title}: every comparison's difference with its 95% interval (paired bootstrap over seeds and "
         f"evaluation examples). {beyond} of {len(table)} intervals exclude 0 (in red): those differences are "
         f"larger than noise; the others are not.",
         f"Forest plot of {len(table)} differences with intervals around a vertical line at zero.")


def plot_cheaper(table: pd.DataFrame, title: str = ""):
    """Overlap (Jaccard) of the cheaper scorings' tickets with the full one, by runs and epochs."""
    grid = table.pivot(index="runs", columns="epochs", values="jaccard with full ticket")
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2.6, 0.5 * grid.shape[0] + 1.6))
    sns.heatmap(grid, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", cbar_kws={"label": "Jaccard"}, ax=ax)
    ax.set_title(title or "Ticket overlap with the full scoring")
    fig.tight_layout()
    return fig


def show_cheaper(table: pd.DataFrame, title: str, chosen: dict | None = None) -> None:
    pick = (f" The cheapest at Jaccard {chosen['min_overlap']:g} or more: {chosen['runs']} runs x {chosen['epochs']} "
            f"epochs, overlap {chosen['jaccard with full ticket']:.2f}." if chosen else "")
    show(plot_cheaper(table, title),
         f"{title}: how much of the full scoring's winning ticket the ticket of fewer runs (rows) and epochs "
         f"(columns) recovers, as the Jaccard index of the two sets.{pick}",
         "Heat map of Jaccard overlap by number of runs and epochs.")
