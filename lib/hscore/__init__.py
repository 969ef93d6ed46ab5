"""hscore: automatic, success-rate-based pruning of fine-tuning datasets.

A reproduction of Tayaranian et al., "Automatic Pruning of Fine-tuning Datasets for
Transformer-based Language Models" (arXiv:2407.08887). The packages, in the order a study uses
them (each imports only those above it in this list, and the modules of this folder):

- ``data``      the tasks, their splits and where their real data comes from
- ``pruning``   scores from recorded dynamics, subsets and baselines from scores: pure functions
- ``config``    the study configuration (``study.yaml``) resolved into frozen dataclasses
- ``engine``    fine-tuning a pretrained transformer and recording its training dynamics
- ``study``     the plan of steps, their identity and state, the executors, the readers
- ``analysis``  what the results say: tables, bootstrap intervals, fairness, what is pruned
- ``report``    what a reader sees: notebook displays, plots, the book, ``hscore prune``'s files

and the modules every layer uses: ``paths`` (every file location), ``files`` (atomic writes,
checksums), ``dynamics`` (the training-dynamics file contract), ``records`` (a step's ``step.json``),
``metrics``, ``errors``.
``lint-imports`` (``pyproject.toml``) checks the layers.
"""

import importlib

__version__ = "0.3.0"

# The API for a user's own Hugging Face Trainer runs, named here for short imports (``hscore.select``,
# ``hscore.RecordingTrainer``); loaded on first use, so ``import hscore`` stays free of torch and transformers.
_LAZY = {"select": "hscore.study.select_runs", "RecordingTrainer": "hscore.engine.recorder",
         "DynamicsRecorder": "hscore.engine.recorder", "record_dynamics": "hscore.engine.recorder"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hscore' has no attribute {name!r}")
