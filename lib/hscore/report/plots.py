"""The book's figures; each function takes result tables (never trains) and returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..analysis.tables import FULL_COLUMNS, METHOD_LABELS, baseline_columns
from ..pruning.baselines import BASELINES
from ..pruning.scores import h_histogram

METHOD_STYLE = {"hscore": ("#c0392b", "o"), **{b.name: (b.color, b.marker) for b in BASELINES.values()},
                "cheaper": ("#1a5276", "*")}  # colour, marker


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


def plot_tradeoff(table: pd.DataFrame, split: str, metric: str = "accuracy", title: str = ""):
    """Score vs training-set size for H-score subsets and size-matched baselines, full data as a line.

    ``table`` is ``summary.tradeoff_table`` (mean and sd over phase-2 seeds); ``metric`` picks its rows."""
    part = table[(table["split"] == split) & (table["metric"] == metric)]
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    full = part[part["method"] == "full"]
    if len(full):
        m, s = full["mean"].iloc[0], full["std"].iloc[0]
        ax.axhline(m, color="black", linestyle="--", linewidth=1, label=f"full data ({m:.1f})")
        if s > 0:
            ax.axhspan(m - s, m + s, color="black", alpha=0.08)
    for method, (color, marker) in METHOD_STYLE.items():
        rows = part[part["method"] == method].sort_values("fraction")
        if rows.empty:
            continue
        ax.errorbar(100 * rows["fraction"], rows["mean"], yerr=rows["std"] if rows["std"].any() else None,
                    color=color, marker=marker, linestyle="-" if method == "hscore" else ":", capsize=3,
                    label=METHOD_LABELS[method])
        if method == "hscore":
            for _, r in rows.iterrows():
                ax.annotate(r["kept"], (100 * r["fraction"], r["mean"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=color)
    ax.set_xlabel("training examples (% of the full training set)")
    ax.set_ylabel(f"{split} {metric.replace('_', ' ')} (%)")
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title or f"Size vs {metric}")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_winning_tickets(summary: pd.DataFrame):
    """Per pair and split: full data (phase-1 runs and phase-2 settings), the winning ticket and every
    baseline at the ticket's size, in each task's headline metric."""
    cols = [*FULL_COLUMNS, "winning ticket", *baseline_columns(summary)]
    long = summary.assign(
        pair=summary["model"] + " / " + summary["task"] + "\n" + summary["split"]).melt(
        id_vars="pair", value_vars=cols, var_name="training set", value_name="score")
    fig, ax = plt.subplots(figsize=(max(6.4, 2.2 * summary.shape[0]), 4.2))
    palette = {"full data (phase-1 runs)": "#17202a", "full data (phase-2 settings)": "#5d6d7e",
               "winning ticket": "#c0392b", **{b.name: b.color for b in BASELINES.values()}}
    sns.barplot(data=long, x="pair", y="score", hue="training set", palette=palette, ax=ax)
    low = np.nanmin(long["score"])
    ax.set_ylim(max(0, low - 10), min(100, np.nanmax(long["score"]) + 3))
    ax.set_xlabel("")
    ax.set_ylabel("evaluation score (%): accuracy, or F1 for QA")
    ax.legend(fontsize=8, frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    sns.despine(fig)
    fig.tight_layout()
    return fig



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


def plot_cheaper(table: pd.DataFrame, title: str = ""):
    """Overlap (Jaccard) of the cheaper scorings' tickets with the full one, by runs and epochs."""
    grid = table.pivot(index="runs", columns="epochs", values="jaccard with full ticket")
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2.6, 0.5 * grid.shape[0] + 1.6))
    sns.heatmap(grid, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", cbar_kws={"label": "Jaccard"}, ax=ax)
    ax.set_title(title or "Ticket overlap with the full scoring")
    fig.tight_layout()
    return fig
