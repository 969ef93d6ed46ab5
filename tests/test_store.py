"""Atomic writes, checksums, step records, and the one definition of a done step (``hscore.study.run``)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from hscore import files as store
from hscore.study import store as records
from hscore.study.run import judge

IDENTITY = {"phase": "phase1", "seed": 342, "lr": 2e-5, "eval_data": {"validation": "abc"}}


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_writes_leave_only_the_targets(tmp_path):
    folder = tmp_path / "a" / "b"
    store.atomic_write_bytes(folder / "raw.bin", b"\x00\x01")
    store.atomic_write_json(folder / "x.json", {"n": np.int64(3), "f": np.float32(0.5), "t": (1, 2)})
    store.atomic_save_npz(folder / "arrays.npz", a=np.arange(4), b=np.eye(2))
    store.atomic_write_parquet(folder / "t.parquet", pd.DataFrame({"h": [0, 2, 1]}))
    assert _names(folder) == ["arrays.npz", "raw.bin", "t.parquet", "x.json"]
    assert (folder / "raw.bin").read_bytes() == b"\x00\x01"
    assert json.loads((folder / "x.json").read_text()) == {"n": 3, "f": 0.5, "t": [1, 2]}
    with np.load(folder / "arrays.npz") as f:
        np.testing.assert_array_equal(f["a"], np.arange(4))
        np.testing.assert_array_equal(f["b"], np.eye(2))
    assert pd.read_parquet(folder / "t.parquet")["h"].tolist() == [0, 2, 1]


def test_overwrite_replaces_the_file(tmp_path):
    store.atomic_write_json(tmp_path / "x.json", {"v": 1})
    store.atomic_write_json(tmp_path / "x.json", {"v": 2})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": 2}
    assert _names(tmp_path) == ["x.json"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    store.atomic_write_json(tmp_path / "x.json", {"v": "old"})

    def killed(src, dst):
        raise KeyboardInterrupt  # as if the process were interrupted just before the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.atomic_write_json(tmp_path / "x.json", {"v": "new"})
    assert _names(tmp_path) == ["x.json"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": "old"}


def test_unserialisable_json_raises(tmp_path):
    with pytest.raises(TypeError):
        store.atomic_write_json(tmp_path / "x.json", {"v": object()})
    assert not (tmp_path / "x.json").exists()


def test_identity_hash_is_stable_and_sensitive():
    reordered = dict(reversed(list(IDENTITY.items())))
    assert store.identity_hash(reordered) == store.identity_hash(IDENTITY)
    assert store.identity_hash({**IDENTITY, "lr": 1e-5}) != store.identity_hash(IDENTITY)
    assert store.identity_hash({**IDENTITY, "seed": 343}) != store.identity_hash(IDENTITY)


def test_array_fingerprint_sees_values_dtype_and_shape():
    a = np.arange(6, dtype=np.int64)
    assert store.array_fingerprint(a) == store.array_fingerprint(a.copy())
    assert store.array_fingerprint(a) != store.array_fingerprint(a[::-1])
    assert store.array_fingerprint(a) != store.array_fingerprint(a.astype(np.int32))
    assert store.array_fingerprint(a) != store.array_fingerprint(a.reshape(2, 3))


def test_file_sha256_matches_hashlib(tmp_path):
    import hashlib

    (tmp_path / "f").write_bytes(b"hello" * 1000)
    assert store.file_sha256(tmp_path / "f") == hashlib.sha256(b"hello" * 1000).hexdigest()


class _Step:
    """What ``judge`` reads of a step: its folder (the state needs nothing else)."""

    def __init__(self, folder):
        self.folder = folder


@pytest.fixture
def finished(tmp_path):
    """A finished step: one result file and its step.json."""
    folder = tmp_path / "run-0"
    store.atomic_save_npz(folder / "dynamics.npz", correct=np.ones((2, 3), dtype=bool))
    records.finish_step(folder, IDENTITY, ["dynamics.npz"], {"seed": 342, "wall_seconds": 1.5})
    return folder


def test_unfinished_step_is_pending(tmp_path):
    assert judge(_Step(tmp_path / "missing"), IDENTITY).state == "pending"
    folder = tmp_path / "run-0"
    store.atomic_save_npz(folder / "dynamics.npz", x=np.zeros(2))  # result written, killed before step.json
    assert judge(_Step(folder), IDENTITY).state == "pending"
    assert judge(_Step(folder), None, "its scoring runs are not all done").state == "waiting"


def test_finished_step_with_same_identity_is_done_with_its_record(finished):
    run = judge(_Step(finished), dict(IDENTITY))
    assert run.state == "done" and run.done and run.problem == ""
    record = run.record
    assert record["identity_hash"] == store.identity_hash(IDENTITY) == run.hash
    assert record["identity"] == IDENTITY
    assert record["seed"] == 342 and record["wall_seconds"] == 1.5
    assert record["files"] == {"dynamics.npz": {"bytes": (finished / "dynamics.npz").stat().st_size,
                                                "sha256": store.file_sha256(finished / "dynamics.npz")}}
    assert _names(finished) == ["dynamics.npz", "step.json"]


def test_other_identity_is_stale_names_what_changed_and_nothing_changes(finished):
    before = {p.name: p.read_bytes() for p in finished.iterdir()}
    run = judge(_Step(finished), {**IDENTITY, "lr": 1e-5, "eval_data": {"validation": "abd"}})
    assert run.state == "stale" and not run.done
    assert "lr: 2e-05 -> 1e-05" in run.problem and "eval_data.validation: 'abc' -> 'abd'" in run.problem
    assert str(finished) in run.describe()
    assert {p.name: p.read_bytes() for p in finished.iterdir()} == before


def test_a_changed_data_fingerprint_is_named_as_the_training_data(finished):
    identity = {**IDENTITY, "data": {"train": "aaa", "eval": {"validation": "bbb"}}}
    records.finish_step(finished, identity, ["dynamics.npz"], {})
    run = judge(_Step(finished), {**identity, "data": {"train": "ccc", "eval": {"validation": "bbb"}}})
    assert run.state == "stale" and run.problem.startswith("made from other inputs: the training data")


def test_changed_file_is_corrupt(finished):
    store.atomic_save_npz(finished / "dynamics.npz", correct=np.zeros((2, 3), dtype=bool))
    run = judge(_Step(finished), IDENTITY)
    assert run.state == "corrupt" and "dynamics.npz" in run.problem


def test_a_flipped_byte_of_the_same_size_is_corrupt(finished):
    path = finished / "dynamics.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    run = judge(_Step(finished), IDENTITY)
    assert run.state == "corrupt" and "checksum" in run.problem


def test_a_truncated_file_is_corrupt_by_its_size(finished):
    path = finished / "dynamics.npz"
    path.write_bytes(path.read_bytes()[:-10])
    run = judge(_Step(finished), IDENTITY)
    assert run.state == "corrupt" and "bytes" in run.problem


def test_missing_file_is_corrupt(finished):
    (finished / "dynamics.npz").unlink()
    run = judge(_Step(finished), IDENTITY)
    assert run.state == "corrupt" and "missing" in run.problem


@pytest.mark.parametrize("garbage", [b"{\"identity_hash\": \"ab", b"\xff\xfe\x00 not json", b"", b"[1, 2]", b"null"])
def test_garbage_step_json_is_corrupt(finished, garbage):
    (finished / "step.json").write_bytes(garbage)
    run = judge(_Step(finished), IDENTITY)
    assert run.state == "corrupt" and "step.json" in run.problem


def test_a_held_lock_is_running(tmp_path):
    folder = tmp_path / "phase1" / "run-0"
    with records.step_lock(folder):
        assert records.held(folder)
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:   # another process sees the step as running
            assert pool.apply(records.held, (folder,))
    assert not records.held(folder)


# --- what the file system can do to a run: a full disk, a folder that cannot be written ---------------

def test_a_full_disk_fails_each_step_in_one_line_and_leaves_no_half_file(study_file, results_dir, monkeypatch, capsys):
    import errno

    from hscore import files
    from hscore.__main__ import main

    study_file()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    assert main(["run", "--profile", "tiny", "--stage", "score"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("hscore: error: ") and "No space left on device" in err and "Traceback" not in err
    assert not list(results_dir.rglob("step.json"))                  # nothing counted as finished
    assert not [p for p in results_dir.rglob("*") if p.name.endswith(".tmp")]   # no half-written file left


def test_a_results_folder_that_cannot_be_written_is_one_line(study_file, results_dir, capsys):
    import subprocess

    from hscore.__main__ import main

    study_file()
    results_dir.mkdir(parents=True)
    if subprocess.run(["chattr", "+i", str(results_dir)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (and as root a mode bit stops nothing)")
    try:
        assert main(["run", "--profile", "tiny"]) == 2
    finally:
        subprocess.run(["chattr", "-i", str(results_dir)], check=True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be written" in err and "HSCORE_RESULTS_DIR" in err
