"""A user's own recorded Trainer runs and their selection, with only the lean install's packages.

``python tests/lean_trainer_run.py OUT``: two recorded runs (seeds 1 and 2) of a randomly initialised tiny
BERT (``BertConfig``: hidden 32, 2 layers, vocabulary 100; no tokenizer, no download) on a 40-row
``datasets.Dataset`` of token ids, written to ``OUT/run-1`` and ``OUT/run-2`` through
``hscore.engine.recorder`` as ``notebooks/trainer.ipynb`` does; then ``python -m hscore --help``,
``python -m hscore select OUT/run-1 OUT/run-2 --out OUT/select`` and, in Python, ``hscore.select([...])``
with every method of the selection a user calls. It ends by checking that none of the study's packages
(``STUDY_MODULES``) was imported. Used by ``tests/test_lean_install.py`` (in this environment, with those
packages blocked) and by ``.ci/lean`` (in a fresh venv with ``pip install -e .`` and nothing else)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)  # two shared cores: one intra-op thread is much faster for a tiny model

import datasets  # noqa: E402
import numpy as np  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification, TrainingArguments, set_seed  # noqa: E402

import hscore  # noqa: E402
from hscore.engine.recorder import DynamicsRecorder, RecordingTrainer  # noqa: E402

# What only hscore[study] installs (the notebooks, the book, the plots, the Slurm executor), as top-level modules.
STUDY_MODULES = ("papermill", "nbformat", "nbclient", "jupyter_book", "sphinx", "matplotlib", "seaborn", "submitit",
                 "IPython", "ipykernel")
SEEDS = (1, 2)
SELECT_FILES = ("scores.parquet", "subsets.npz", "subsets.json", "step.json")


def train_data(n: int = 40, length: int = 12, vocab: int = 100) -> datasets.Dataset:
    """``n`` rows of random token ids (CLS ... SEP) with an ``idx`` column and a learnable binary label."""
    rng = np.random.default_rng(0)
    ids = rng.integers(5, vocab, size=(n, length))
    ids[:, 0], ids[:, -1] = 2, 3
    return datasets.Dataset.from_dict({"idx": list(range(100, 100 + n)), "input_ids": ids.tolist(),
                                       "attention_mask": np.ones_like(ids).tolist(),
                                       "label": (ids[:, 1] % 2).tolist()})


def record(out: Path, seed: int, train: datasets.Dataset) -> Path:
    set_seed(seed)
    model = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64,
                                                     max_position_embeddings=32, num_labels=2))
    args = TrainingArguments(output_dir=str(out / f"trainer-{seed}"), num_train_epochs=2, per_device_train_batch_size=8,
                             learning_rate=5e-4, seed=seed, use_cpu=True, report_to=[], save_strategy="no",
                             logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
    run_dir = out / f"run-{seed}"
    trainer = RecordingTrainer(model=model, args=args, train_dataset=train,
                               dynamics=DynamicsRecorder("classification", output_dir=run_dir))
    trainer.train()
    return run_dir


def cli(*args: str, show: bool = True) -> subprocess.CompletedProcess:
    """``python -m hscore ARGS`` in this environment (a blocker on PYTHONPATH reaches it too)."""
    done = subprocess.run([sys.executable, "-m", "hscore", *args], capture_output=True, text=True)
    print(f"$ python -m hscore {' '.join(args)}  -> rc {done.returncode}")
    print(f"{done.stdout[-2000:] if show else ''}{done.stderr[-4000:]}", end="")
    assert done.returncode == 0, f"python -m hscore {' '.join(args)} failed (rc {done.returncode})"
    return done


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    train = train_data()
    runs = [record(out, seed, train) for seed in SEEDS]
    for run in runs:
        assert (run / "dynamics.npz").is_file() and (run / "step.json").is_file(), f"{run}: no recorded run"

    assert "select" in cli("--help", show=False).stdout
    cli("select", *map(str, runs), "--out", str(out / "select"))
    missing = [f for f in SELECT_FILES if not (out / "select" / f).is_file()]
    assert not missing, f"hscore select wrote no {', '.join(missing)}"

    chosen = hscore.select([str(r) for r in runs])
    hist = chosen.histogram()
    assert int(hist.sum()) == len(train), hist
    assert not chosen.table().empty
    scored = chosen.to_dataset(train)
    added = [c for c in scored.column_names if c not in train.column_names]
    assert len(scored) == len(train) and set(train.column_names) < set(scored.column_names), scored.column_names
    subset = chosen.subset_dataset(train)
    assert 0 < len(subset) <= len(train) and set(subset["idx"]) <= set(train["idx"])
    assert (chosen.write(out / "select-py") / "scores.parquet").is_file()
    print(f"hscore.select: H histogram {hist.to_dict()}, winning ticket {len(subset)} of {len(train)} rows; "
          f"to_dataset added {', '.join(added)}")

    loaded = sorted(m for m in STUDY_MODULES if m in sys.modules)
    assert not loaded, f"imported study packages: {loaded}"
    print("lean: recorded 2 runs, hscore select and hscore.select ran without", ", ".join(STUDY_MODULES))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/lean_trainer_run.py OUT_DIR")
    main(Path(sys.argv[1]))
