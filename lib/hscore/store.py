"""Atomic writes and resumable steps whose results carry the configuration that made them.

Every file is written to a temporary name in the same folder and renamed into place, so a kill
leaves either the old file or the new one, never half of one. A *step* (one scoring run, one
phase-2 run, ...) is finished when its ``step.json`` exists; that file is written last and holds
the hash of the step's identity (everything its result depends on), the SHA-256 of each file it
produced, and the details of the run (seed, versions, device, wall time). On the next run:

- no ``step.json``: the step runs (an interrupted step is simply redone);
- same identity hash and intact files: the step is skipped and its record returned;
- another identity: ``StaleResultError`` naming the settings that differ and the folder to delete
  (never silently reused, never silently overwritten);
- a file whose checksum changed: ``CorruptResultError`` naming the folder to delete.

``step_lock`` makes a step run once even when several processes (``--jobs``, two invocations,
Slurm jobs) reach it: the process holding a step's lock runs it, the others wait and then find it
finished. The lock is an OS file lock, released when its process ends, killed or not.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from . import paths
from .errors import CorruptResultError, StaleResultError

STEP_FILE = paths.STEP_FILE


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n").encode())


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_parquet(path: Path, frame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.ndarray, tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def identity_hash(identity: dict) -> str:
    """A stable hash of everything a step's result depends on."""
    text = json.dumps(identity, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def array_fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of array contents (e.g. the example ids a step trained on)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def load_step(folder: Path, identity: dict) -> dict | None:
    """The record of a finished step with this identity, or None if it has not finished."""
    folder = Path(folder)
    marker = folder / STEP_FILE
    if not marker.exists():
        return None
    try:
        record = json.loads(marker.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptResultError(f"{marker} is unreadable ({e}); delete the folder {folder} to recompute it") from e
    if not isinstance(record, dict):
        raise CorruptResultError(f"{marker} does not hold a step record; delete the folder {folder} to recompute it")
    if record.get("identity_hash") != identity_hash(identity):
        diff = settings_diff(record.get("identity", {}), json.loads(json.dumps(identity, default=_json_default)))
        raise StaleResultError(
            f"{folder} holds a result computed with other settings ({'; '.join(diff) or 'unknown'}). It is kept, "
            f"not reused: delete that folder to recompute it with the current settings (or every result of the "
            f"profile: `hscore clean --profile <profile>`).")
    for name, digest in record.get("files", {}).items():
        path = folder / name
        if not path.exists() or file_sha256(path) != digest:
            raise CorruptResultError(
                f"{path} is missing or does not match the checksum written with it; "
                f"delete the folder {folder} to recompute that step")
    return record


def settings_diff(recorded: dict, wanted: dict) -> list[str]:
    """``key: recorded -> wanted`` for every key whose value differs (a key missing on one side included)."""
    return [f"{k}: {recorded.get(k, '(absent)')!r} -> {wanted.get(k, '(absent)')!r}"
            for k in sorted(set(recorded) | set(wanted)) if recorded.get(k) != wanted.get(k)]


def read_record(folder: Path) -> dict | None:
    """A step's record as written, without checks (None if it has not finished or is unreadable)."""
    try:
        record = json.loads((Path(folder) / STEP_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def step_lock(folder: Path) -> FileLock:
    """The lock of the step whose folder this is (``with step_lock(folder): ...``)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(paths.lock_file(folder))


def finish_step(folder: Path, identity: dict, files: list[str], details: dict) -> dict:
    """Mark a step finished: write its record, with checksums of ``files`` (names inside ``folder``)."""
    folder = Path(folder)
    record = {
        "identity_hash": identity_hash(identity),
        "identity": identity,
        "files": {name: file_sha256(folder / name) for name in files},
        **details,
    }
    atomic_write_json(folder / STEP_FILE, record)
    return record
