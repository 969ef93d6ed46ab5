"""The results store: a step's record and its lock.

A step (one scoring run, a selection, one phase-2 run, a pair's tables) is finished when its
``step.json`` exists; that file is written last (atomically, ``hscore.files``) and holds the hash
of the step's identity (everything its result depends on, ``hscore.study.run``), the identity
itself, the size and SHA-256 of each file the step wrote, and the details of the run (seed,
versions, device, wall time, who ran it). An interrupted step leaves no ``step.json`` and is simply
redone.

``step_lock`` makes a step run once even when several processes (``--jobs``, two invocations,
Slurm jobs) reach it: the process holding a step's lock runs it, the others wait and then find it
finished. The lock is an OS file lock, released when its process ends, killed or not.
"""

from __future__ import annotations

import json
from pathlib import Path

from filelock import FileLock, Timeout

from .. import paths
from ..errors import ResultsFolderError
from ..files import atomic_write_json, file_sha256, identity_hash

STEP_FILE = paths.STEP_FILE


def read_record(folder: Path) -> dict | None:
    """A step's record as written, without checks (None if it has not finished or is unreadable)."""
    try:
        record = json.loads((Path(folder) / STEP_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def file_entry(path: Path) -> dict:
    """What a record keeps of a file it owns: size (cheap to check) and SHA-256."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def finish_step(folder: Path, identity: dict, files: list[str], details: dict) -> dict:
    """Mark a step finished: write its record, with the size and checksum of ``files`` (names
    inside ``folder``), last."""
    folder = Path(folder)
    record = {
        "identity_hash": identity_hash(identity),
        "identity": identity,
        "files": {name: file_entry(folder / name) for name in files},
        **details,
    }
    atomic_write_json(folder / STEP_FILE, record)
    return record


def step_lock(folder: Path) -> FileLock:
    """The lock of the step whose folder this is (``with step_lock(folder).acquire(...)``)."""
    folder = Path(folder)
    lock = paths.lock_file(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        if lock.exists() and not lock.is_file():
            raise IsADirectoryError(f"{lock} is not a file")
    except OSError as e:
        raise ResultsFolderError(f"cannot create the lock of {folder} ({e.strerror or e}); make the results folder "
                                 "writable (or point HSCORE_RESULTS_DIR at one that is) and run again") from None
    return FileLock(lock)


def held(folder: Path) -> bool:
    """Whether another process holds the step's lock now (it is running that step)."""
    lock = paths.lock_file(folder)
    if not lock.exists():
        return False
    probe = FileLock(lock)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:
        return False
    probe.release()
    return False
