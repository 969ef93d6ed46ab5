"""The reliability trials: the study put through faults and bad input as a careful user would, on the
smoke profile's first pair, through the command line (real processes).

- kills: ``kill -9`` of the main process at several points of a ``--jobs 2`` run (its workers must die
  with it), and of one worker; the next run resumes and ends **bit-identical** to a run never killed;
- interrupts: Ctrl-C (SIGINT to the whole process group, as a terminal sends it), once and twice: the
  run stops within seconds, keeps its finished steps, leaves no process behind, and resumes identical;
- corruption: a result file edited, truncated, with a flipped byte, deleted, or a garbage ``step.json``:
  ``hscore run`` and ``hscore plan`` name the folder in one line before anything trains, the readers
  leave the run out; a derived file (the selection) is recomputed instead;
- stale inputs: a changed setting upstream (phase-1 learning rate, ``cheaper_ticket``, a baseline or a
  seed removed, padding-free, the phase-1 folders deleted after a change): no table shows a run whose
  inputs changed;
- bad input: each is one line, in seconds, before training.

The lists below are the trials; the README states their counts (``test_readme_counts_the_trials``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[1]
PAIR = "minilm/rotten_tomatoes"
RESULT_FILES = ("dynamics.npz", "predictions.npz", "metrics.json", "scores.parquet", "subsets.npz", "subsets.json")
GONE_WITHIN = 10.0    # seconds for every process of an interrupted or killed run to end

KILLS = ["during scoring", "after the selection", "during phase 2", "one worker"]
INTERRUPTS = ["once", "twice"]
CORRUPTIONS = ["metrics.json edited", "dynamics.npz truncated", "predictions.npz byte flipped", "step.json garbage",
               "predictions.npz deleted", "subsets.npz byte flipped (derived: recomputed)",
               "step.json seed edited in its identity and record", "step.json seed edited in its record only"]
STALE = ["phase-1 learning rate", "cheaper_ticket", "a baseline removed", "a phase-2 seed removed", "padding-free off",
         "phase-1 folders deleted after a change", "a phase-1 change: one clean --stale, then one run"]
BAD_INPUT = ["max_length 100000", "train_cap 5", "cluster section with wrong types", "--stage finetune before phase 1",
             "prune --file on a folder", "prune --file on a header-only CSV", "prune --file with list texts",
             "prune --file with an unknown encoding", "prune on an extractive-QA task", "clean --profile ''",
             "clean --profile ..", "lr 1000 in phase 2", "a results folder made immutable mid-study",
             "offline-kinds with an empty data folder", "prune --file with a 5 MB header",
             "prune --file with mixed-type labels", "prune --file with long lists as texts",
             "HSCORE_RESULTS_DIR set but empty"]


# --- the machinery: the command line in its own process group ------------------------------------

class Study:
    """A study file (the repository's, edited) and a results folder, driven through ``python -m hscore``."""

    def __init__(self, root: Path, edit=None):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.results = root / "results"
        self.study_file = root / "study.yaml"
        study = yaml.safe_load((REPO / "study.yaml").read_text())
        if edit:
            edit(study)
        self.study_file.write_text(yaml.safe_dump(study, sort_keys=False))

    def edit(self, change) -> None:
        study = yaml.safe_load(self.study_file.read_text())
        change(study)
        self.study_file.write_text(yaml.safe_dump(study, sort_keys=False))

    data: Path = FIXTURE_DATA                 # HSCORE_DATA_DIR
    results_env: str | None = None            # HSCORE_RESULTS_DIR as set, when not the results folder

    @property
    def env(self) -> dict:
        results = str(self.results) if self.results_env is None else self.results_env
        return {**os.environ, "HSCORE_RESULTS_DIR": results, "HSCORE_STUDY_FILE": str(self.study_file),
                "HSCORE_DATA_DIR": str(self.data), "HSCORE_BOOK_DIR": str(self.root / "book"),
                "PYTHONUNBUFFERED": "1"}

    def start(self, *args) -> subprocess.Popen:
        # Ctrl-C as in a terminal: SIGINT at its default even where the suite itself was started with it ignored
        # (a background job of a non-interactive shell inherits SIGINT ignored, and so would every child)
        return subprocess.Popen([sys.executable, "-m", "hscore", *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=self.root,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def run(self, *args, timeout: float = 900) -> tuple[int, str, str, float]:
        started = time.monotonic()
        proc = self.start(*args)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err, time.monotonic() - started

    def pair(self) -> Path:
        return self.results / "smoke" / PAIR

    def records(self, stage: str) -> list[Path]:
        return sorted(self.pair().glob(f"{stage}/*/step.json"))

    def digest(self) -> dict[str, str]:
        """What the study computed, byte for byte: every result file of the pair."""
        return {p.relative_to(self.pair()).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.pair().rglob("*")) if p.name in RESULT_FILES}


def _run_pair(study: Study, *extra) -> tuple[int, str, str, float]:
    return study.run("run", "--profile", "smoke", "--pair", PAIR, "--jobs", "2", *extra)


def _one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("hscore: error: ") and "Traceback" not in err


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the run ended or stalled first: {proc.communicate()}")
        time.sleep(0.05)


def _processes(proc: subprocess.Popen):
    psutil = pytest.importorskip("psutil")
    return [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]


def _busy_worker(processes, proc: subprocess.Popen, timeout: float = 600):
    """A worker in the middle of a step: the one holding a step's lock (an idle worker holds none)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for p in processes[1:]:
            try:
                if "spawn_main" in " ".join(p.cmdline()) and any(f.path.endswith(".lock") for f in p.open_files()):
                    return p
            except Exception:  # noqa: BLE001 - a process that ended meanwhile
                continue
        time.sleep(0.02)
    raise AssertionError("no worker was found running a step")


def _all_gone(processes, within: float = GONE_WITHIN) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_running() and p.status() != "zombie"]
        if not alive:
            return True
        time.sleep(0.1)
    for p in processes:   # leave nothing behind, whatever the verdict
        try:
            p.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
    return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Study:
    """The pair run once, never interrupted: what every resumed run must equal, byte for byte."""
    study = Study(tmp_path_factory.mktemp("reference"))
    rc, out, err, _ = _run_pair(study)
    assert rc == 0, err
    return study


def _copy(reference: Study, tmp_path: Path, edit=None) -> Study:
    study = Study(tmp_path / "copy", edit)
    shutil.copytree(reference.results, study.results)
    return study


# --- kills and interrupts ------------------------------------------------------------------------------

@pytest.mark.reliability
@pytest.mark.parametrize("point", KILLS)
def test_kill_then_resume_is_bit_identical(reference, tmp_path, point):
    study = Study(tmp_path)
    proc = study.start("run", "--profile", "smoke", "--pair", PAIR, "--jobs", "2")
    when = {"during scoring": lambda: len(study.records("phase1")) >= 1,
            "after the selection": lambda: (study.pair() / "select" / "step.json").exists(),
            "during phase 2": lambda: len(study.records("phase2")) >= 10,
            "one worker": lambda: len(study.records("phase1")) >= 1}[point]
    _wait_for(when, proc)
    processes = _processes(proc)
    if point == "one worker":
        _busy_worker(processes, proc).kill()
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 2 and "worker process died" in err and err.count("hscore: error") == 1
    else:
        processes[0].kill()   # kill -9 of the main process: its workers must end by themselves
        assert _all_gone(processes[1:]), "a worker outlived its killed parent"
        proc.communicate()
    rc, _, err, _ = _run_pair(study)
    assert rc == 0, err
    assert study.digest() == reference.digest()


@pytest.mark.reliability
@pytest.mark.parametrize("times", INTERRUPTS)
def test_ctrl_c_stops_within_seconds_and_resumes_identical(reference, tmp_path, times):
    study = Study(tmp_path)
    proc = study.start("run", "--profile", "smoke", "--pair", PAIR, "--jobs", "2")
    _wait_for(lambda: len(study.records("phase1")) >= 1, proc)
    processes = _processes(proc)
    finished = set(study.records("phase1")) | set(study.records("phase2"))
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)           # a terminal's Ctrl-C reaches every process of the group
    if times == "twice":
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < GONE_WITHIN, "the interrupted run took too long to stop"
    assert proc.returncode == 130 and "interrupted; finished steps are kept" in err
    assert _all_gone(processes[1:]), "a worker outlived the interrupted run"
    assert finished <= set(study.records("phase1")) | set(study.records("phase2"))   # nothing finished was lost
    rc, _, err, _ = _run_pair(study)
    assert rc == 0, err
    assert study.digest() == reference.digest()


# --- corruption ------------------------------------------------------------------------------------------

def _corrupt(study: Study, trial: str) -> Path:
    """Damage one file as the trial says; returns the folder of the step it belongs to."""
    pair = study.pair()
    if trial == "metrics.json edited":
        path = pair / "phase2" / "hscore--remove-0-3--6666" / "metrics.json"
        metrics = json.loads(path.read_text())
        metrics["eval"]["validation"]["accuracy"] = 99.0
        path.write_text(json.dumps(metrics))
    elif trial == "dynamics.npz truncated":
        path = pair / "phase1" / "run-1" / "dynamics.npz"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif trial.endswith("byte flipped") or trial.startswith("subsets"):
        path = (pair / "select" / "subsets.npz") if trial.startswith("subsets") else \
            (pair / "phase2" / "random--remove-0-3--7" / "predictions.npz")
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif trial == "step.json garbage":
        path = pair / "phase2" / "full--full--7" / "step.json"
        path.write_text('{"identity_hash": "ab')
    elif trial == "predictions.npz deleted":
        path = pair / "phase1" / "run-0" / "predictions.npz"
        path.unlink()
    elif trial.startswith("step.json seed edited"):
        path = pair / "phase1" / "run-1" / "step.json"
        record = json.loads(path.read_text())
        record["seed"] = 7
        if "identity" in trial:
            record["identity"]["seed"] = 7
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path.parent


@pytest.mark.reliability
@pytest.mark.parametrize("trial", CORRUPTIONS)
def test_corruption_is_one_line_naming_the_folder_before_anything_trains(reference, tmp_path, trial):
    study = _copy(reference, tmp_path)
    folder = _corrupt(study, trial)
    if "derived" in trial:   # the selection is recomputed from the scoring runs: nothing to delete
        rc, _, err, _ = _run_pair(study)
        assert rc == 0, err
        assert study.digest() == reference.digest()
        return
    before = study.digest()
    rc, out, err, _ = _run_pair(study)
    assert rc == 2 and _one_line(err) and str(folder) in err and ("checksum" in err or "unreadable" in err)
    assert study.digest() == before                  # nothing trained, nothing rewritten
    rc, out, _, _ = study.run("plan", "--profile", "smoke", "--pair", PAIR)
    assert rc == 0 and "corrupt" in out
    rc, out, err, _ = study.run("execute", "--profile", "smoke", "--pair", PAIR)
    assert rc == 2 and _one_line(err) and str(folder) in err and not list((study.root / "book").rglob("*.ipynb"))
    if trial == "metrics.json edited":
        rc, out, _, _ = study.run("plan", "--profile", "smoke", "--pair", PAIR)
        assert "99.0" not in out
    if trial.startswith("step.json seed edited"):   # named, then redone as it was by one clean and one run
        assert "changed after it was written" in err
        rc, out, err, _ = study.run("clean", "--profile", "smoke", "--stale", "--yes")
        assert rc == 0 and str(folder) in out, err
        rc, _, err, _ = _run_pair(study)
        assert rc == 0, err
        assert study.digest() == reference.digest()
        assert json.loads((folder / "step.json").read_text())["seed"] == 4827


# --- stale inputs -------------------------------------------------------------------------------------------

def _current_runs(study: Study) -> dict:
    """The pair's current phase-2 runs as the readers see them (run in the study's environment)."""
    code = ("import json; from hscore import config; from hscore.study.results import PairResults; "
            f"r = PairResults(config.pair_config('smoke', *{PAIR.split('/')!r})); t = r.phase2(); "
            "print(json.dumps({'runs': sorted(set(zip(t['method'], t['subset'], t['seed'].astype(int).tolist()))), "
            "'ignored': r.ignored()}, default=list))")
    out = subprocess.run([sys.executable, "-c", code], env=study.env, capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    return {"runs": {tuple(r) for r in data["runs"]}, "ignored": data["ignored"]}


def _settings(study, **changes):
    def change(d):
        d["profiles"]["smoke"]["settings"].update(changes)
    return change


@pytest.mark.reliability
@pytest.mark.parametrize("trial", STALE)
def test_a_changed_input_never_leaves_an_old_result_in_a_table(reference, tmp_path, trial):
    study = _copy(reference, tmp_path)
    before = _current_runs(study)
    if trial == "phase-1 learning rate":
        study.edit(lambda d: d["profiles"]["smoke"]["settings"]["phase1"].update(lr=3.0e-4))
        rc, _, err, _ = _run_pair(study)
        assert rc == 2 and _one_line(err) and "lr: 0.0001 -> 0.0003" in err and "--stale" in err
        assert _current_runs(study)["runs"] == set()   # nothing downstream of the stale scoring shows
    elif trial == "cheaper_ticket":
        study.edit(_settings(study, cheaper_ticket=0.01))
        rc, _, err, _ = _run_pair(study)
        assert rc == 2 and "cheaper--remove-0-3" in err and "the subset it trains on" in err
        after = _current_runs(study)
        assert {r for r in before["runs"] if r[0] == "cheaper"} and not {r for r in after["runs"] if r[0] == "cheaper"}
        assert after["runs"] == {r for r in before["runs"] if r[0] != "cheaper"}
    elif trial == "a baseline removed":
        study.edit(_settings(study, baselines=["random", "ambiguous", "forgetting", "el2n",
                                               "dynamic_uncertainty_all_windows"]))
        after = _current_runs(study)
        assert not {r for r in after["runs"] if r[0] == "ccs"} and any("ccs--" in line for line in after["ignored"])
    elif trial == "a phase-2 seed removed":
        study.edit(lambda d: d["profiles"]["smoke"]["settings"]["phase2"].update(seeds=[6666]))
        after = _current_runs(study)
        assert {r[2] for r in after["runs"]} == {6666} and any("--7:" in line for line in after["ignored"])
    elif trial == "padding-free off":
        study.edit(_settings(study, padding_free=False))
        rc, _, err, _ = _run_pair(study)
        assert rc == 2 and "padding_free: True -> False" in err
        assert _current_runs(study)["runs"] == set()
    elif trial == "phase-1 folders deleted after a change":
        study.edit(lambda d: d["profiles"]["smoke"]["settings"]["phase1"].update(lr=2.0e-4))
        shutil.rmtree(study.pair() / "phase1")   # as the stale message says
        rc, _, err, _ = _run_pair(study)         # phase 1 again; the phase-2 runs on changed subsets are stale
        after = _current_runs(study)
        changed = {line.split(":")[0] for line in after["ignored"] if "the subset it trains on" in line}
        assert rc == 2 and changed and "the subset it trains on" in err
        stale = {(m, s, int(seed)) for m, s, seed in (c.removeprefix("phase2/").split("--") for c in changed)}
        assert stale and not stale & after["runs"]          # no table shows a run trained on an old subset
        full = {r for r in before["runs"] if r[0] == "full"}
        assert full <= after["runs"]              # the full-set runs did not depend on phase 1: kept
    elif trial == "a phase-1 change: one clean --stale, then one run":
        study.edit(lambda d: d["profiles"]["smoke"]["settings"]["phase1"].update(lr=2.0e-4))
        rc, _, err, _ = _run_pair(study)
        assert rc == 2 and _one_line(err) and "phase-2 run(s) trained on subsets the redone scoring decides" in err
        rc, out, err, _ = study.run("clean", "--profile", "smoke", "--stale", "--yes")
        assert rc == 0 and "phase-2 run(s) were trained on subsets" in out, err
        rc, _, err, _ = _run_pair(study)        # the advice followed once is enough: no second stop
        assert rc == 0, err
        after = _current_runs(study)
        assert after["runs"] == before["runs"] and not after["ignored"]


# --- bad input ------------------------------------------------------------------------------------------------

def _bad_input(trial: str, tmp_path: Path, study: Study) -> tuple[list[str], str]:
    """(command, what the one line must say) of a bad-input trial, after preparing its input."""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    prune = ["prune", "--profile", "smoke", "--model", "minilm", "--text", "review", "--label", "stars", "--file"]
    if trial == "max_length 100000":
        study.edit(_settings(study, max_length=100000))
        return ["run", "--profile", "smoke"], "max_length = 100000 is longer than the 512 positions"
    if trial == "train_cap 5":
        study.edit(_settings(study, train_cap=5))
        return ["run", "--profile", "smoke"], "train_cap = 5: must be null or an integer >= 20"
    if trial == "cluster section with wrong types":
        study.edit(lambda d: d.update(cluster={"time_min": "long", "mem_gb": "lots"}))
        return ["run", "--profile", "smoke"], "cluster.time_min = 'long'"
    if trial == "--stage finetune before phase 1":
        return (["run", "--profile", "smoke", "--pair", PAIR, "--stage", "finetune"],
                "run phase 1 (`--stage score`) first")
    if trial == "prune --file on a folder":
        (files / "reviews.csv").mkdir()
        return [*prune, str(files / "reviews.csv")], "is a folder"
    if trial == "prune --file on a header-only CSV":
        (files / "header.csv").write_text("review,stars\n")
        return [*prune, str(files / "header.csv")], "has a header ('review', 'stars') but no rows"
    if trial == "prune --file with list texts":
        import pandas as pd

        pd.DataFrame({"review": [["a", "b"]] * 30, "stars": ["x", "y"] * 15}).to_parquet(files / "lists.parquet")
        return [*prune, str(files / "lists.parquet")], "must hold one text per row"
    if trial == "prune --file with an unknown encoding":
        (files / "ok.csv").write_text("review,stars\n" + "".join(f"text {i},{i % 2}\n" for i in range(40)))
        return [*prune, str(files / "ok.csv"), "--encoding", "utf-99"], "encoding 'utf-99' is not a text encoding"
    if trial == "prune on an extractive-QA task":
        return ["prune", "--profile", "smoke", "--model", "minilm", "--task", "squad_dev"], \
            "extractive_qa kind scores parts of an example"
    if trial == "clean --profile ''":
        return ["clean", "--profile", "", "--yes"], "is not a profile of"
    if trial == "clean --profile ..":
        return ["clean", "--profile", "..", "--yes"], "is not a profile of"
    if trial == "lr 1000 in phase 2":
        study.edit(lambda d: d["profiles"]["smoke"]["settings"]["phase2"].update(lr=1000.0))
        return ["run", "--profile", "smoke", "--pair", PAIR, "--jobs", "2"], "diverged"
    if trial == "a results folder made immutable mid-study":
        return ["run", "--profile", "smoke", "--pair", PAIR], "make the results folder writable"
    if trial == "offline-kinds with an empty data folder":
        return ["run", "--profile", "offline-kinds"], "minilm/squad_dev, minilm/social_iqa: needs BIG-bench 1.0.0"
    if trial == "prune --file with a 5 MB header":
        (files / "wide.csv").write_text("r" * 5_000_000 + ",stars\n" + "".join(f"t{i},{i % 2}\n" for i in range(40)))
        return [*prune, str(files / "wide.csv")], "(5,000,000 characters)"
    if trial == "prune --file with mixed-type labels":
        (files / "mixed.jsonl").write_text("".join(json.dumps({"review": f"text {i}", "stars": "pos" if i % 3 else 1})
                                                   + "\n" for i in range(60)))
        return [*prune, str(files / "mixed.jsonl")], "column 'stars' mixes text and numbers"
    if trial == "prune --file with long lists as texts":
        import pandas as pd

        pd.DataFrame({"review": [list(range(300))] * 30, "stars": ["x", "y"] * 15}).to_parquet(files / "long.parquet")
        return [*prune, str(files / "long.parquet")], "holds a list"
    if trial == "HSCORE_RESULTS_DIR set but empty":   # a results folder in the current one, which it must not read
        (study.root / "smoke" / PAIR).mkdir(parents=True)
        return ["clean", "--profile", "smoke"], "asks before deleting"
    raise AssertionError(trial)


@pytest.mark.reliability
@pytest.mark.parametrize("trial", BAD_INPUT)
def test_bad_input_is_one_line_in_seconds_before_training(reference, tmp_path, trial):
    scored = trial in ("lr 1000 in phase 2", "a results folder made immutable mid-study")
    study = _copy(reference, tmp_path) if scored else Study(tmp_path / "study")
    if trial == "lr 1000 in phase 2":   # phase 1 kept; every phase-2 run, however short, is caught
        shutil.rmtree(study.pair() / "phase2")
    if trial == "a results folder made immutable mid-study":
        shutil.rmtree(study.pair() / "phase2")
        if subprocess.run(["chattr", "+i", str(study.pair())], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available on this file system")
    command, message = _bad_input(trial, tmp_path, study)
    if trial == "offline-kinds with an empty data folder":
        study.data = tmp_path / "empty"
    if trial == "HSCORE_RESULTS_DIR set but empty":   # the default results folder, never the current one
        study.results_env = ""
        rc, out, err, _ = study.run(*command)
        assert str(study.root / "smoke") not in out + err and "Traceback" not in err
        assert rc == 0 and "nothing to delete" in out or rc == 2 and _one_line(err) and message in err
        return
    try:
        rc, out, err, seconds = study.run(*command, timeout=600)
    finally:
        if trial == "a results folder made immutable mid-study":
            subprocess.run(["chattr", "-i", str(study.pair())], check=True)
    assert rc == 2 and (message in err or trial == "lr 1000 in phase 2" and "NaN" in err), err
    last = err.strip().splitlines()[-1]   # runs that train print their progress bars first
    assert last.startswith("hscore: error: ") and "Traceback" not in err and err.count("hscore: error") == 1
    assert len(last) < 2000, f"a one-line error of {len(last)} characters"
    if trial == "lr 1000 in phase 2":   # each way a run went wrong said once, not once per run it stopped
        assert last.count("Lower the learning rate") <= 3 and "steps alike" in last, last
    if trial == "offline-kinds with an empty data folder":
        assert last.count("no longer serves") == 1 and "nothing was run" in last
        rc, out, err, _ = study.run("plan", "--profile", "offline-kinds")
        assert rc == 2 and "64 steps" in out and _one_line(err) and "needs BIG-bench 1.0.0" in err
    if trial == "lr 1000 in phase 2":
        assert not study.records("phase2"), "a diverged run was saved as done"
    elif not scored:
        assert seconds < 60 and not list(study.results.rglob("step.json")) if study.results.exists() else True


# --- the README states these counts ---------------------------------------------------------------------------

def test_readme_counts_the_trials():
    readme = (REPO / "README.md").read_text()
    total = len(KILLS) + len(INTERRUPTS) + len(CORRUPTIONS) + len(STALE) + len(BAD_INPUT)
    assert f"{total} trials" in readme
    for count, what in ((len(KILLS), "kill"), (len(INTERRUPTS), "Ctrl-C"), (len(CORRUPTIONS), "corrupt"),
                        (len(STALE), "stale"), (len(BAD_INPUT), "bad input")):
        assert f"{count} {what}" in readme, f"the README does not say '{count} {what}...'"
