"""Shared fixtures: an isolated results folder, one CPU thread, and a tiny PairConfig factory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from hscore import config
from hscore.data import bigbench

# The test machine has two cores shared with other jobs: one intra-op thread avoids oversubscription,
# which otherwise slows tiny models down by an order of magnitude (and keeps runs bit-reproducible).
torch.set_num_threads(1)


# The real cut of the bigbench archive's files that ships in the package (lib/hscore/data/sample): as the
# data folder, the tasks squad_dev, social_iqa and vitaminc read it instead of the 358 MB archive.
FIXTURE_DATA = bigbench.SAMPLE


@pytest.fixture(autouse=True)
def results_dir(tmp_path, monkeypatch):
    """Every test writes its results under its own tmp_path, never into the repository's results/,
    and reads the bigbench tasks from the cut shipped in the package, never from the network."""
    root = tmp_path / "results"
    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(root))
    monkeypatch.setenv("HSCORE_DATA_DIR", str(FIXTURE_DATA))
    monkeypatch.delenv("HSCORE_ALLOW_CPU", raising=False)
    return root


@pytest.fixture(scope="session")
def study():
    """The raw study.yaml (tests that modify it deep-copy it first)."""
    return config.load_study()


@pytest.fixture
def tiny_config(study):
    """Factory of a seconds-long PairConfig: the random tiny BERT on a 40-example Rotten Tomatoes slice,
    with the random and ambiguous baselines (``baselines=`` to train others)."""

    def make(**overrides) -> config.PairConfig:
        base = config.pair_config("smoke", "minilm", "rotten_tomatoes", study)
        phase1 = dataclasses.replace(base.phase1, seeds=(1, 2, 3), epochs=2, lr=1e-4, batch_size=8)
        phase2 = dataclasses.replace(base.phase2, seeds=(7,), epochs=1, lr=1e-4, batch_size=8)
        cfg = dataclasses.replace(base, model="tiny-bert", checkpoint="random:tiny-bert", train_cap=40, eval_cap=20,
                                  max_length=32, phase1=phase1, phase2=phase2, baselines=("random", "ambiguous"))
        return dataclasses.replace(cfg, **overrides)

    return make


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from hscore.engine import models

    return models.load_tokenizer("random:tiny-bert")


TINY_PROFILE = {
    "description": "tests: the random tiny BERT on 40 Rotten Tomatoes examples, seconds per run",
    "settings": {"max_length": 32, "train_cap": 40, "eval_cap": 20,
                 "phase1": {"seeds": [1, 2, 3], "epochs": 2, "lr": 1.0e-4, "batch_size": 8},
                 "phase2": {"seeds": [7], "epochs": 1, "lr": 1.0e-4, "batch_size": 8}},
    "pairs": [{"model": "tiny-bert", "task": "rotten_tomatoes"}],
}


@pytest.fixture
def study_file(tmp_path, monkeypatch, study):
    """Write a study.yaml (the real one plus the ``tiny`` profile, changed by ``edit``) and point
    ``HSCORE_STUDY_FILE`` at it, for the command line and for worker processes."""
    import copy

    import yaml

    def write(edit=None, text: str | None = None) -> Path:
        path = tmp_path / "study.yaml"
        if text is None:
            data = copy.deepcopy(study)
            data["profiles"]["tiny"] = copy.deepcopy(TINY_PROFILE)
            if edit:
                edit(data)
            text = yaml.safe_dump(data, sort_keys=False)
        path.write_text(text)
        monkeypatch.setenv("HSCORE_STUDY_FILE", str(path))
        return path

    return write
