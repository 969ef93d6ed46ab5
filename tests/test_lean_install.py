"""The lean install: what a user of the Hugging Face Trainer imports (``hscore.engine.recorder``,
``hscore.select``, ``hscore select``) needs none of the study's packages, which are the ``study`` extra.

Here the study's packages are installed (``make venv``), so they are *blocked*: a ``sitecustomize`` on
PYTHONPATH puts a ``sys.meta_path`` finder first that refuses them, in the process that records and
selects (``tests/lean_trainer_run.py``) and in the ``python -m hscore`` it starts. ``.ci/lean`` runs the
same script in a fresh venv where they are not installed at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hscore.__main__ import STUDY_PACKAGES

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "lean_trainer_run.py"

# Distributions of the `study` extra, and the top-level modules only they (and their dependencies) provide.
STUDY_DISTS = {"papermill", "ipykernel", "jupyter-book", "matplotlib", "seaborn", "submitit", "cleanlab",
               "scikit-learn"}
BLOCKED = STUDY_PACKAGES   # the modules hscore's command line names when a lean install lacks them

BLOCKER = f'''"""Test-only: the study's packages cannot be imported (tests/test_lean_install.py)."""
import sys

BLOCKED = {set(BLOCKED)!r}


class LeanInstallBlocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            sys.stderr.write(f"lean-install blocker: refused import of {{name}}\\n")
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not in the lean install)", name=name)
        return None


sys.meta_path.insert(0, LeanInstallBlocker())
'''


def canonical(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement, normalised (PEP 503)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pyproject_moves_the_study_packages_to_an_extra():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {canonical(r) for r in project["dependencies"]}
    assert not core & STUDY_DISTS, f"study packages still required by the lean install: {sorted(core & STUDY_DISTS)}"
    assert {"torch", "transformers", "accelerate", "datasets", "numpy", "pandas", "pyarrow"} <= core
    extras = project["optional-dependencies"]
    assert {canonical(r) for r in extras["study"]} == STUDY_DISTS
    assert {"test", "lab"} <= set(extras)


@pytest.fixture
def blocked_env(tmp_path):
    folder = tmp_path / "blocker"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH")) if p)
    return env


def test_the_blocker_refuses_the_study_packages(blocked_env):
    """Without this the lean run below could pass vacuously: the blocker must be in force in a subprocess,
    for the packages themselves and for hscore's own study modules that import them."""
    for module in ("matplotlib.pyplot", "papermill", "submitit", "IPython.display", "hscore.report.plots"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], env=blocked_env, capture_output=True,
                              text=True)
        assert done.returncode != 0 and "blocked: not in the lean install" in done.stderr, (module, done.stderr)
    done = subprocess.run([sys.executable, "-c", "import hscore.engine.recorder, hscore.study.select_runs"],
                          env=blocked_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_recorded_trainer_runs_and_select_without_the_study_packages(tmp_path, blocked_env):
    out = tmp_path / "lean"
    done = subprocess.run([sys.executable, str(SCRIPT), str(out)], env=blocked_env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    log = done.stdout[-6000:] + done.stderr[-6000:]
    assert done.returncode == 0, log
    for seed in (1, 2):
        assert (out / f"run-{seed}" / "dynamics.npz").is_file()
    for name in ("scores.parquet", "subsets.npz", "subsets.json", "step.json"):
        assert (out / "select" / name).is_file(), name
    assert "winning ticket" in done.stdout and "lean: recorded 2 runs" in done.stdout, log


def test_a_study_command_in_a_lean_install_is_one_line(blocked_env):
    """`hscore findings` (matplotlib) and `hscore execute` (papermill) without the study extra: one line saying
    what to install, no traceback."""
    for command in (["findings", "--profile", "smoke"], ["execute", "--profile", "smoke"]):
        done = subprocess.run([sys.executable, "-m", "hscore", *command], env=blocked_env, capture_output=True,
                              text=True, cwd=REPO)
        err = [line for line in done.stderr.splitlines() if not line.startswith("lean-install blocker")]
        assert done.returncode == 2 and len(err) == 1, done.stderr
        assert err[0].startswith(f"hscore: error: hscore {command[0]} needs the study's packages (") and \
            "pip install -e '.[study]'" in err[0]
