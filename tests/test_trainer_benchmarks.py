"""The Trainer benchmarks run (tiny profile) and record what the book's page *Score your own Trainer run*
reads; the page's notebook only reads those records."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from hscore import paths
from hscore.pruning.scores import h_score
from hscore.report import book, trainer_run

matplotlib.use("Agg")
BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
NOTEBOOK = paths.NOTEBOOKS / "trainer.ipynb"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def engine_record(study_file, tmp_path):
    study_file()
    out = tmp_path / "trainer"
    results = tmp_path / "results.jsonl"
    record = _load("trainer_engine").main(["--profile", "tiny", "--examples", "24", "--runs", "2", "--out", str(out),
                                           "--results", str(results)])
    return record, out, results


def test_trainer_engine_records_speeds_and_agreement(engine_record):
    record, out, results = engine_record
    assert json.loads(results.read_text()) == json.loads(json.dumps(record))
    assert json.loads((out / "tiny--tiny-bert--rotten_tomatoes.json").read_text()) == json.loads(json.dumps(record))
    assert record["pair"] == "tiny-bert/rotten_tomatoes" and record["examples"] == 24 and record["runs"] == 2
    assert set(record["examples_per_second"]) == {"loop", "trainer"} and all(
        len(s) == 2 for s in record["seconds"].values())
    a = record["agreement"]
    assert a["bit_identical"] and a["identical_flags"] == a["flags"] == 2 * 2 * 24      # R x E x N
    assert a["histogram_distance"] == 0 and a["ticket_jaccard"] == 1 and a["histogram"] == a["reference_histogram"]
    with np.load(out / "tiny--tiny-bert--rotten_tomatoes.npz") as f:
        assert f["correct_loop"].shape == (2, 2, 24) and np.array_equal(f["h_trainer"], h_score(f["correct_trainer"]))
        assert len(f["example_id"]) == len(f["label"]) == 24


def test_trainer_overhead_compares_the_same_run_with_and_without_the_recorder(study_file, tmp_path):
    study_file()
    results = tmp_path / "results.jsonl"
    record = _load("trainer_overhead").main(["--profile", "tiny", "--examples", "24", "--rounds", "2",
                                             "--results", str(results)])
    assert json.loads(results.read_text())["benchmark"] == "trainer_overhead"
    assert record["same_loss"] and len(record["losses"]["plain"]) == len(record["losses"]["recorder"]) == 2
    assert record["median_step_s"]["plain"] > 0 and 0 < record["record_call_s"] < record["median_step_s"]["plain"]
    assert set(record["fixed_s"]) == {"rows_and_fingerprint", "epoch_merge", "files"}


def test_the_page_shows_the_records(engine_record, monkeypatch):
    record, out, results = engine_record
    monkeypatch.setattr(paths, "TRAINER_BENCHMARKS", out)
    monkeypatch.setattr(paths, "BENCHMARKS", results.parent)
    shown = []
    monkeypatch.setattr(trainer_run, "display", lambda obj: shown.append(getattr(obj, "data", obj)))
    loaded = trainer_run.load("tiny--tiny-bert--rotten_tomatoes")
    assert loaded is not None and loaded[0] == json.loads(json.dumps(record))
    table = trainer_run.ticket_table(loaded[1], 2)
    h = loaded[1]["h_loop"]
    assert table["ticket size"].tolist() == [int(((h >= 1) & (h <= 1)).sum())] * 2
    assert table.attrs["overlap"] == (table["ticket size"][0],) * 2
    fig = trainer_run.plot_histograms(loaded[1], 2)
    assert len(fig.axes[0].patches) == 2 * 3 + 1   # a bar per engine and H value, and the ticket's band
    trainer_run.show("tiny--tiny-bert--rotten_tomatoes")
    text = " ".join(x for x in shown if isinstance(x, str))
    assert "identical in every one" in text and "no record for this pair yet" in text
    assert f"{record['runs']} runs (seeds 1, 2) x 2 epochs on 24 training examples" in text
    assert any(getattr(x, "shape", None) == (2, 5) for x in shown)            # the tickets' table
    shown.clear()
    trainer_run.show("nothing-here")
    assert "run `python benchmarks/trainer_engine.py`" in shown[0]


def test_the_notebook_is_clean_and_only_reads():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "committed with outputs"
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in code) == 1
    source = "".join("".join(c["source"]) for c in code)
    for forbidden in ("executors", "steps", "run_step", "selection.write", "atomic_", "to_parquet", "to_csv",
                      "savefig", "open(", "train(", "fine_tune"):
        assert forbidden not in source, forbidden
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for line in ("from hscore.engine.recorder import DynamicsRecorder, RecordingTrainer", "hscore select runs/run-*",
                 "hscore.select(", "subset_dataset(train)", "push_to_hub"):
        assert line in text
    assert "trainer" in book.GUIDE_NOTEBOOKS


@pytest.mark.slow
def test_the_notebook_executes_on_the_committed_records(tmp_path):
    """Papermill runs the page on the records in benchmarks/trainer/ (as the book build does): a figure, no error."""
    assert (paths.TRAINER_BENCHMARKS / f"{trainer_run.RECORD}.json").exists(), "run benchmarks/trainer_engine.py"
    executed = book.execute_notebook("trainer", tmp_path / "trainer.ipynb", {})
    nb = json.loads(executed.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("<figcaption>H histogram of the same scoring" in "".join(o.get("data", {}).get("text/html", ""))
               for o in outputs)
    assert any("Agreement" in "".join(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    record = json.loads((paths.BENCHMARKS / "distributed.json").read_text())   # one process or two, as measured
    assert any(trainer_run.distributed_sentence(record) in "".join(o.get("data", {}).get("text/markdown", ""))
               for o in outputs)


def test_one_process_or_two_is_said_from_the_record():
    """The sentence of ``benchmarks/distributed.json``: its figures, and which difference is the larger."""
    row = lambda agree, moved, rho, jac: {"flags_agree": agree, "rows_changing_h": moved, "spearman_h": rho,
                                           "ticket_jaccard": jac, "ticket_size": 400}
    record = {"examples": 800, "runs": 3, "epochs": 3, "global_batch": 8,
              "against_one_process": {"two": row(0.93, 0.2, 0.8, 0.7), "other seeds": row(0.88, 0.4, 0.6, 0.5)}}
    text = trainer_run.distributed_sentence(record)
    assert "agree on 93.0% of the correct flags, change H for 20.0% of the rows and give a winning ticket of " \
           "Jaccard 0.70" in text and "ticket Jaccard 0.50" in text and "moves H less than changing the seeds" in text
    record["against_one_process"]["two"]["ticket_jaccard"] = 0.4
    assert "moves H no less than changing the seeds" in trainer_run.distributed_sentence(record)
