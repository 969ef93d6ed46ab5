"""The benchmark scripts run (on the tiny profile) and record what they measured."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_throughput_records_rates_tokens_and_flop_utilisation(study_file, tmp_path):
    study_file()
    out = tmp_path / "results.jsonl"
    record = _load("throughput").main(["--profile", "tiny", "--examples", "24", "--results", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    assert record["pair"] == "tiny-bert/rotten_tomatoes" and record["train_examples_per_s"] > 0
    assert record["train_tokens_per_s"] >= record["train_examples_per_s"] * 2   # at least 2 tokens a row
    assert record["matmul_peak_tflops"] > 0 and 0 < record["model_flop_utilisation"] < 1
    assert record["padding_free"]  # the tiny BERT computes on real tokens only, as the profile says


def test_padded_tokens_counts_each_batch_at_its_longest_row():
    import numpy as np

    padded = _load("throughput").padded_tokens
    assert padded(np.array([3, 5, 2, 2, 7]), np.array([0, 1, 2, 3, 4]), 2) == 2 * 5 + 2 * 2 + 1 * 7


def test_engine_compares_contenders_in_one_process(study_file, tmp_path):
    study_file()
    out = tmp_path / "results.jsonl"
    record = _load("engine").main(["--profile", "tiny", "--examples", "24", "--rounds", "2",
                                   "--only", "ours", "ours-padded", "--results", str(out)])
    assert set(record["examples_per_second"]) == {"ours", "ours-padded"} and record["padding_free"]
    assert all(len(s) == 2 for s in record["seconds"].values())


def test_gpu_hours_estimate_covers_the_paper_grid(capsys):
    _load("gpu_hours").main([])
    table = capsys.readouterr().out
    assert table.count("| roberta-large /") == 5 and table.count("| opt-350m /") == 5
    assert "| 6 + 22 |" in table and "all 10 pairs" in table


@pytest.mark.parametrize("tflops", ["75", "300"])
def test_gpu_hours_scale_with_the_assumed_rate(capsys, tflops):
    _load("gpu_hours").main(["--tflops", tflops])
    assert f"at {tflops} TFLOP/s" in capsys.readouterr().out


def test_equivalence_compares_padding_free_and_other_seeds_with_the_padded_reference(study_file, tmp_path):
    study_file()
    out = tmp_path / "results.jsonl"
    record = _load("equivalence").main(["--profile", "tiny", "--examples", "24", "--runs", "2",
                                        "--results", str(out)])
    rows = record["comparisons"]
    assert list(rows) == ["padded", "padding-free", "padded, other seeds"]
    assert rows["padded"]["histogram_distance"] == 0 and rows["padded"]["ticket_jaccard"] == 1
    assert all(sum(r["histogram"]) == 24 and len(r["histogram"]) == 3 for r in rows.values())
    assert record["seeds"] == {"A": [1, 2], "B": [1001, 1002]}
    assert json.loads(out.read_text())["comparisons"] == json.loads(json.dumps(rows))
