"""Atomic writes and resumable, identity-checked steps."""

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from hscore import store
from hscore.errors import CorruptResultError, StaleResultError

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


@pytest.fixture
def finished(tmp_path):
    """A finished step: one result file and its step.json."""
    folder = tmp_path / "run-0"
    store.atomic_save_npz(folder / "dynamics.npz", correct=np.ones((2, 3), dtype=bool))
    store.finish_step(folder, IDENTITY, ["dynamics.npz"], {"seed": 342, "wall_seconds": 1.5})
    return folder


def test_unfinished_step_is_none(tmp_path):
    assert store.load_step(tmp_path / "missing", IDENTITY) is None
    folder = tmp_path / "run-0"
    store.atomic_save_npz(folder / "dynamics.npz", x=np.zeros(2))  # result written, killed before step.json
    assert store.load_step(folder, IDENTITY) is None


def test_finished_step_with_same_identity_returns_its_record(finished):
    record = store.load_step(finished, dict(IDENTITY))
    assert record["identity_hash"] == store.identity_hash(IDENTITY)
    assert record["identity"] == IDENTITY
    assert record["seed"] == 342 and record["wall_seconds"] == 1.5
    assert record["files"] == {"dynamics.npz": store.file_sha256(finished / "dynamics.npz")}
    assert _names(finished) == ["dynamics.npz", "step.json"]


def test_other_identity_is_stale_and_nothing_changes(finished):
    before = {p.name: p.read_bytes() for p in finished.iterdir()}
    with pytest.raises(StaleResultError, match=re.escape(str(finished))):
        store.load_step(finished, {**IDENTITY, "lr": 1e-5})
    assert {p.name: p.read_bytes() for p in finished.iterdir()} == before


def test_changed_file_is_corrupt(finished):
    store.atomic_save_npz(finished / "dynamics.npz", correct=np.zeros((2, 3), dtype=bool))
    with pytest.raises(CorruptResultError, match="dynamics.npz"):
        store.load_step(finished, IDENTITY)


def test_missing_file_is_corrupt(finished):
    (finished / "dynamics.npz").unlink()
    with pytest.raises(CorruptResultError, match="missing"):
        store.load_step(finished, IDENTITY)


@pytest.mark.parametrize("garbage", [b"{\"identity_hash\": \"ab", b"\xff\xfe\x00 not json", b""])
def test_garbage_step_json_is_corrupt(finished, garbage):
    (finished / "step.json").write_bytes(garbage)
    with pytest.raises(CorruptResultError, match="delete the folder"):
        store.load_step(finished, IDENTITY)


@pytest.mark.parametrize("garbage", [b"[1, 2]", b"null"])
def test_non_object_step_json_is_corrupt(finished, garbage):
    (finished / "step.json").write_bytes(garbage)
    with pytest.raises(CorruptResultError):
        store.load_step(finished, IDENTITY)
