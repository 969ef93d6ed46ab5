"""Result tables: mean and spread over phase-2 seeds, and the winning-ticket row, from a hand-made table."""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from hscore import plots, summary  # noqa: E402


def _rows(method, subset, kept, size, scores):
    return [{"method": method, "subset": subset, "kept": kept, "size": size, "fraction": size / 100, "seed": s,
             "split": "validation", "score": v, "wall_seconds": 1.0} for s, v in zip((1, 2), scores)]


@pytest.fixture
def results():
    # R = 3: the winning ticket is remove-0-3 (kept H 1-2), 30 of 100 examples.
    rows = (_rows("full", "full", None, 100, [80.0, 82.0]) + _rows("hscore", "remove-0-3", "H 1-2", 30, [81.0, 85.0])
            + _rows("random", "remove-0-3", "H 1-2", 30, [70.0, 72.0])
            + _rows("ambiguous", "remove-0-3", "H 1-2", 30, [75.0, 75.0])
            + _rows("hscore", "remove-0-1-3", "H 2", 10, [60.0, 64.0]))
    return pd.DataFrame(rows)


def test_tradeoff_table_means_and_spreads(results):
    table = summary.tradeoff_table(results)
    ticket = table[(table["method"] == "hscore") & (table["subset"] == "remove-0-3")].iloc[0]
    assert ticket["mean"] == 83.0 and ticket["seeds"] == 2
    assert ticket["std"] == pytest.approx(np.std([81.0, 85.0], ddof=1))
    assert list(table["size"]) == sorted(table["size"], reverse=True)  # largest training set first


def test_pair_summary_reads_the_winning_ticket(results, tiny_config):
    cfg = tiny_config(phase2=dataclasses.replace(tiny_config().phase2, seeds=(1, 2)))
    row = summary.pair_summary(cfg, results).iloc[0]
    assert (row["train examples"], row["ticket size"], row["ticket % of full"]) == (100, 30, 30.0)
    assert (row["full data"], row["winning ticket"], row["random"], row["ambiguous"]) == (81.0, 83.0, 71.0, 75.0)
    assert row["ticket - full"] == 2.0
    shown = summary.display_columns(summary.pair_summary(cfg, results)).iloc[0]
    assert shown["winning ticket"] == "83.0 ± 2.8"


def test_paper_numbers_are_the_reported_ones():
    paper = summary.paper_results().set_index(["task", "split"])
    assert paper.loc[("mnli", "validation_matched"), "full_score"] == 90.04
    assert paper.loc[("sst2", "validation"), "ticket_pct"] == 24
    assert paper.loc[("snli", "validation"), "ticket_score"] == 92.50


def test_figures_draw_from_tables(results):
    table = summary.tradeoff_table(results)
    fig = plots.plot_tradeoff(table, "validation")
    ax = fig.axes[0]
    assert "accuracy" in ax.get_ylabel() and "%" in ax.get_xlabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"H-score", "random", "ambiguous"}
    scores = pd.DataFrame({"h": [0, 1, 1, 2, 3, 3], "confidence": np.linspace(0, 1, 6),
                           "variability": np.linspace(0, .4, 6)})
    hist = plots.plot_h_histogram(scores, 3).axes[0]
    assert [p.get_height() for p in hist.patches] == [1, 2, 1, 2]
    assert plots.plot_data_map(scores, 3).axes[0].get_xlabel().startswith("variability")
