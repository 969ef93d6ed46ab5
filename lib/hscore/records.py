"""A finished step's record, ``step.json``: written last, read without checks.

A step (a scoring run, a selection, a phase-2 run, a pair's tables; or a run a user's own
Hugging Face ``Trainer`` recorded, ``hscore.engine.recorder``) is finished when its ``step.json``
exists. That file is written last (atomically, ``hscore.files``) and holds the hash of the step's
identity (everything its result depends on), the identity itself, the size and SHA-256 of each file
the step wrote, and the details of the run (seed, versions, device, wall time, who ran it). An
interrupted step leaves no ``step.json``. Whether a record is current is ``hscore.study.run``'s to
say; the locks that make a step run once are ``hscore.study.store``'s.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import paths
from .files import atomic_write_json, file_sha256, identity_hash

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
