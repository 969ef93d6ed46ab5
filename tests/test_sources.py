"""Nothing silent: every offline profile's data loads on a fresh machine, a missing source is said once
before anything runs, failures that share a cause are one line, a user's value is cut, an edited
record is found, an empty variable is unset. The command-line trials are in test_reliability.py.

``test_every_offline_profile_loads_its_data_from_an_empty_data_folder`` is CI's watch on the package
registry: a data package that vanishes (as bigbench 1.0.0 did) fails it, not a user."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from hscore import config, paths, pip
from hscore.data import bigbench, get_task, pair_splits
from hscore.errors import DataUnavailableError, excerpt, excerpts
from hscore.records import RECORD_HASH, finish_step, read_record, verify
from hscore.study import plan as plan_module
from hscore.study.executors.scheduler import Outcome, failures

REPO = Path(__file__).resolve().parents[1]


# --- the offline profiles, as a fresh machine has them -------------------------------------------

def test_the_readme_calls_offline_exactly_the_profiles_marked_so(study):
    readme = (REPO / "README.md").read_text()
    line = next(line for line in readme.splitlines() if "offline on a fresh machine:" in line)
    named = re.findall(r"`([a-z0-9-]+)`", line.split("offline on a fresh machine:")[1].split(";")[0])
    assert named == config.offline_profiles(study)
    assert {"default", "smoke"} <= set(named) and "offline-kinds" not in named and "paper" not in named


@pytest.mark.parametrize("profile", config.offline_profiles(config.load_study()))
def test_every_offline_profile_loads_its_data_from_an_empty_data_folder(profile, tmp_path, monkeypatch):
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path / "empty"))
    plan = plan_module.build(profile, check_writable=False)
    assert plan_module.missing_sources(plan) == {}   # the packages are installed; what is downloaded is served
    for cfg in plan.configs:
        splits = pair_splits(get_task(cfg.task, cfg.declared), cfg)
        assert len(splits["train"]) >= min(cfg.train_cap or 20, 20) and all(len(s) for s in splits.values())
    assert not (tmp_path / "empty").exists()    # nothing was downloaded to check it


def test_the_sample_tasks_read_the_cut_shipped_in_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path / "empty"))
    squad = get_task("squad_dev_sample").load(0)
    social = get_task("social_iqa_sample").load(0)
    assert (len(squad["train"]) + len(squad["validation"]), len(social["train"]) + len(social["validation"])) \
        == (250, 222)
    assert (bigbench.SAMPLE / "README.md").read_text().count("CC BY") >= 2   # source and license stated


# --- a missing source: said once, before anything runs --------------------------------------------

def test_a_missing_archive_is_one_line_naming_every_pair_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(pip, "serves", lambda package, version: False)
    plan = plan_module.build("offline-kinds", check_writable=False)
    problems = plan_module.missing_sources(plan)
    assert list(problems.values()) == [["minilm/squad_dev", "minilm/social_iqa"]]
    with pytest.raises(DataUnavailableError) as e:
        plan_module.check_sources(plan)
    message = str(e.value)
    assert "\n" not in message and message.count("no longer serves bigbench 1.0.0") == 1
    assert str(tmp_path / "empty") in message and "nothing was run" in message and "other pair" not in message


def test_the_archive_in_the_data_folder_is_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(pip, "serves", lambda package, version: pytest.fail("the registry was asked"))
    (tmp_path / bigbench.ARCHIVE).write_bytes(b"")
    assert bigbench.missing() == ""


def test_a_registry_that_cannot_be_asked_leaves_the_download_to_say_why(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(pip, "serves", lambda package, version: None)
    assert "could not be asked" in bigbench.missing()


def _probe(monkeypatch, stdout: str, stderr: str = "", rc: int = 0):
    pip.serves.cache_clear()
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, rc, stdout, stderr))


def test_serves_reads_what_pip_index_lists(monkeypatch):
    _probe(monkeypatch, "bigbench (0.0.1)\nAvailable versions: 0.0.1\n")
    assert pip.serves("bigbench", "1.0.0") is False
    _probe(monkeypatch, "x (1.0.0)\nAvailable versions: 1.0.0, 0.0.1\n")
    assert pip.serves("x", "1.0.0") is True
    _probe(monkeypatch, "", "ERROR: No matching distribution found for nothing-here", 1)
    assert pip.serves("nothing-here", "1") is False
    _probe(monkeypatch, "", "ERROR: unknown command \"index\"", 1)
    assert pip.serves("old-pip", "1") is None
    pip.serves.cache_clear()


# --- one cause, one line ---------------------------------------------------------------------------

def test_failures_that_share_a_cause_are_said_once():
    failed = {f"minilm/rt/phase2/hscore--remove-0-6--{s}": f"the run diverged in epoch 1: loss {s}.5e+04 "
              + "x" * 5000 for s in range(12)}
    failed["minilm/rt/phase2/full--full--1"] = "out of memory"
    failed.update({f"minilm/rt/phase2/random--remove-0-6--{s}": f"cannot open the lock of /r/smoke/minilm/rt/phase2/"
                   f"random--remove-0-6--{s} (Operation not permitted)" for s in range(5)})
    failed.update({f"minilm/rt/tables{i}": f"needs minilm/rt/phase2/hscore--remove-0-6--{i}, which failed"
                   for i in range(40)})
    line = failures(failed)
    assert line.count("the run diverged") == 1 and "(12 steps alike: " in line and "and 9 more" in line
    assert "minilm/rt/phase2/full--full--1: out of memory" in line
    assert line.count("cannot open the lock") == 1 and "(5 steps alike: " in line
    assert "40 step(s) that need them did not run" in line and len(line) < 1000
    with pytest.raises(Exception) as e:
        Outcome(failed=failed).raise_failures()
    assert str(e.value).startswith("58 step(s) failed") and "\n" not in str(e.value)


def test_a_users_value_is_cut_to_an_excerpt_with_its_size():
    header = "c" * 5_242_964
    shown = excerpt(header)
    assert len(shown) < 100 and "5,242,964 characters" in shown
    assert excerpt("two\nlines") == "'two lines'" and excerpt(7) == "7"
    assert excerpts([f"col{i}" for i in range(500)]).endswith("and 492 more")


# --- records checked like files ---------------------------------------------------------------------

def test_an_edited_record_no_longer_verifies(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    record = finish_step(tmp_path, {"stage": "score", "seed": 342}, ["metrics.json"], {"seed": 342})
    assert read_record(tmp_path) == record and verify(tmp_path, record) == ""
    for edit in (lambda r: r.update(seed=7), lambda r: r["identity"].update(seed=7), lambda r: r.pop(RECORD_HASH)):
        edited = json.loads((tmp_path / "step.json").read_text())
        edit(edited)
        problem = verify(tmp_path, edited)
        assert "step.json" in problem and ("changed after it was written" in problem or "no checksum" in problem)


# --- empty environment variables --------------------------------------------------------------------

@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_variable_means_unset(monkeypatch, value):
    for name in ("HSCORE_RESULTS_DIR", "HSCORE_DATA_DIR", "HSCORE_STUDY_FILE", "HSCORE_BOOK_DIR"):
        monkeypatch.setenv(name, value)
    assert paths.results_root() == (paths.REPO / "results").resolve()
    assert paths.study_file() == paths.STUDY_FILE.resolve()
    assert paths.book_dir() == (paths.REPO / "book").resolve()
    assert paths.data_dir().name == "hscore" and paths.data_dir() != Path.cwd()
