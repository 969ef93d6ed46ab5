"""Result tables: mean and spread over phase-2 seeds, and the winning-ticket row, from a hand-made table."""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from hscore.analysis import tables as summary  # noqa: E402
from hscore.report import plots  # noqa: E402
from hscore.study.results import PHASE1_COLUMNS  # noqa: E402


def _rows(method, subset, kept, size, scores, metric="accuracy"):
    return [{"method": method, "subset": subset, "kept": kept, "size": size, "fraction": size / 100, "seed": s,
             "split": "validation", "metric": metric, "score": v, "wall_seconds": 1.0, "flops": size * 1e13}
            for s, v in zip((1, 2), scores)]


@pytest.fixture
def results():
    # R = 3: the winning ticket is remove-0-3 (kept H 1-2), 30 of 100 examples.
    rows = (_rows("full", "full", None, 100, [80.0, 82.0]) + _rows("hscore", "remove-0-3", "H 1-2", 30, [81.0, 85.0])
            + _rows("random", "remove-0-3", "H 1-2", 30, [70.0, 72.0])
            + _rows("ambiguous", "remove-0-3", "H 1-2", 30, [75.0, 75.0])
            + _rows("hscore", "remove-0-1-3", "H 2", 10, [60.0, 64.0])
            # a second metric of the same runs (as option rows' row_accuracy): its own rows, never the headline's
            + _rows("full", "full", None, 100, [10.0, 12.0], "row_accuracy")
            + _rows("hscore", "remove-0-3", "H 1-2", 30, [20.0, 20.0], "row_accuracy"))
    return pd.DataFrame(rows)


def _phase1_runs(cfg, scores):
    """The scoring runs' table as ``PairResults.phase1_runs`` reads it (two metrics per run)."""
    rows = [{"run": r, "seed": seed, "split": "validation", "metric": metric, "score": value, "wall_seconds": 2.0,
             "flops": 3e15, "device": "cpu"}
            for r, (seed, score) in enumerate(zip(cfg.phase1.seeds, scores))
            for metric, value in (("accuracy", score), ("row_accuracy", 0.0))]
    return pd.DataFrame(rows, columns=PHASE1_COLUMNS)


NO_RUNS = pd.DataFrame(columns=PHASE1_COLUMNS)


def test_tradeoff_table_means_and_spreads(results):
    table = summary.tradeoff_table(results)
    at_ticket = table[(table["method"] == "hscore") & (table["subset"] == "remove-0-3")]
    ticket = at_ticket[at_ticket["metric"] == "accuracy"]
    assert len(ticket) == 1
    ticket = ticket.iloc[0]
    assert ticket["mean"] == 83.0 and ticket["seeds"] == 2
    rows = at_ticket[at_ticket["metric"] == "row_accuracy"]
    assert rows["mean"].tolist() == [20.0] and len(table) == 7
    assert ticket["std"] == pytest.approx(np.std([81.0, 85.0], ddof=1))
    assert table["metric"].tolist() == ["accuracy"] * 5 + ["row_accuracy"] * 2      # grouped by metric ...
    for _, part in table.groupby("metric"):
        assert list(part["size"]) == sorted(part["size"], reverse=True)  # ... largest training set first


def test_pair_summary_reads_the_winning_ticket(results, tiny_config):
    cfg = tiny_config(phase2=dataclasses.replace(tiny_config().phase2, seeds=(1, 2)))
    table = summary.pair_summary(cfg, results, NO_RUNS)
    assert len(table) == 1   # one row per split, in the task's headline metric only
    row = table.iloc[0]
    assert row["metric"] == "accuracy"
    assert (row["train examples"], row["ticket size"], row["ticket % of full"]) == (100, 30, 30.0)
    assert (row["full data (phase-2 settings)"], row["winning ticket"], row["random"], row["ambiguous"]) == (
        81.0, 83.0, 71.0, 75.0)
    assert row["ticket - full"] == 2.0
    assert np.isnan(row["full data (phase-1 runs)"]) and row["phase-1 runs"] == 0   # no scoring run finished yet
    shown = summary.display_columns(table).iloc[0]
    assert shown["winning ticket"] == "83.0 ± 2.8"
    assert shown["full data (phase-2 settings)"] == "81.0 ± 1.4"


def test_pair_summary_reports_the_phase1_runs_as_full_data(results, tiny_config):
    cfg = tiny_config(phase2=dataclasses.replace(tiny_config().phase2, seeds=(1, 2)))   # R = 3 scoring runs
    phase1 = _phase1_runs(cfg, [78.0, 80.0, 85.0])
    row = summary.pair_summary(cfg, results, phase1).iloc[0]
    assert row["full data (phase-1 runs)"] == pytest.approx(81.0)
    assert row["full data (phase-1 runs) sd"] == pytest.approx(np.std([78.0, 80.0, 85.0], ddof=1))
    assert row["phase-1 runs"] == 3
    assert row["full data (phase-2 settings)"] == 81.0  # the phase-2 full run: its own column
    shown = summary.display_columns(summary.pair_summary(cfg, results, phase1)).iloc[0]
    assert shown["full data (phase-1 runs)"] == "81.0 ± 3.6"


def test_paper_numbers_are_the_reported_ones():
    paper = summary.paper_results().set_index(["task", "split"])
    assert paper.loc[("mnli", "validation_matched"), "full_score"] == 90.04
    assert paper.loc[("sst2", "validation"), "ticket_pct"] == 24
    assert paper.loc[("snli", "test"), "ticket_score"] == 92.50       # SNLI and RACE: the test split


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


def test_cost_table_from_recorded_wall_times(results, tiny_config):
    """3 scoring runs of 2 s; phase-2 runs of 1 s on the full set and on the ticket: no saving yet."""
    cfg = tiny_config(phase2=dataclasses.replace(tiny_config().phase2, seeds=(1, 2)))
    phase1 = _phase1_runs(cfg, [78.0, 80.0, 85.0])
    row = summary.cost_table(cfg, results, phase1).iloc[0]
    assert row["scoring runs"] == 3 and row["scoring (s)"] == pytest.approx(6.0)
    assert row["saved per later run (s)"] == 0 and row["later runs to pay back"] == np.inf
    flops = (row["scoring (PFLOP)"], row["full-set run (PFLOP)"], row["ticket run (PFLOP)"])
    assert flops == pytest.approx((9, 1, 0.3))
    faster = results.assign(wall_seconds=np.where(results["method"] == "full", 4.0, 1.0))
    row = summary.cost_table(cfg, faster, phase1).iloc[0]
    assert row["saved per later run (s)"] == pytest.approx(3.0) and row["later runs to pay back"] == pytest.approx(2.0)
    assert row["ticket % of full"] == pytest.approx(30.0)
    assert summary.cost_table(cfg, results.iloc[:0], phase1).empty


def test_seed_counts_are_the_runs_behind_each_mean(results, tiny_config):
    """Three seeds configured, two runs finished: the table says 2, and a method with one run shows no spread."""
    cfg = tiny_config(phase2=dataclasses.replace(tiny_config().phase2, seeds=(1, 2, 3)))
    one_random = results[~((results["method"] == "random") & (results["seed"] == 2))]
    row = summary.pair_summary(cfg, one_random, NO_RUNS).iloc[0]
    assert row["phase-2 seeds"] == 2 and row["random n"] == 1 and row["winning ticket n"] == 2
    shown = summary.display_columns(summary.pair_summary(cfg, one_random, NO_RUNS)).iloc[0]
    assert shown["random"] == "70.0" and shown["winning ticket"] == "83.0 ± 2.8"


def test_no_column_for_a_baseline_the_plan_no_longer_holds(results, tiny_config):
    """Runs of a baseline removed from the plan never become a column (the readers return the plan's runs;
    the table's columns come from the plan's baselines)."""
    cfg = tiny_config(baselines=("random",), phase2=dataclasses.replace(tiny_config().phase2, seeds=(1, 2)))
    table = summary.pair_summary(cfg, results, NO_RUNS)
    assert "random" in table.columns and "ambiguous" not in table.columns
    assert summary.baseline_columns(table) == ["random"]
