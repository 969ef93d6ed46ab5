"""A finished step's record, ``step.json``: written last, read without checks.

A step (a scoring run, a selection, a phase-2 run, a pair's tables; or a run a user's own
Hugging Face ``Trainer`` recorded, ``hscore.engine.recorder``) is finished when its ``step.json``
exists. That file is written last (atomically, ``hscore.files``) and holds the hash of the step's
identity (everything its result depends on), the identity itself, the size and SHA-256 of each file
the step wrote, the details of the run (seed, versions, device, wall time, who ran it), and the
SHA-256 of the record itself (``record_sha256``, over every other key), so an edited record is found
as an edited file is (``verify``). An interrupted step leaves no ``step.json``. Whether a record is
current is ``hscore.study.run``'s to say; the locks that make a step run once are ``hscore.study.store``'s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import paths
from .files import atomic_write_json, file_sha256, identity_hash, to_json

STEP_FILE = paths.STEP_FILE
RECORD_HASH = "record_sha256"   # the record's checksum of itself


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
    record = json.loads(to_json({
        "identity_hash": identity_hash(identity),
        "identity": identity,
        "files": {name: file_entry(folder / name) for name in files},
        **details,
    }))   # as it reads back, so the checksum is of what a reader sees
    record[RECORD_HASH] = record_sha256(record)
    atomic_write_json(folder / STEP_FILE, record)
    return record


def record_sha256(record: dict) -> str:
    """The SHA-256 of a record's canonical text, its own checksum left out."""
    return hashlib.sha256(to_json({k: v for k, v in record.items() if k != RECORD_HASH}).encode()).hexdigest()


def verify(folder: Path, record: dict) -> str:
    """'' when the record is as written (its own checksum) and every file it lists has its recorded
    size and checksum, else what is wrong."""
    if RECORD_HASH not in record:
        return f"{STEP_FILE} has no checksum of its own (written by hscore before 0.3, or edited)"
    if record[RECORD_HASH] != record_sha256(record):
        return f"{STEP_FILE} was changed after it was written (it does not match the checksum written with it)"
    folder = Path(folder)
    for name, entry in (record.get("files") or {}).items():
        path = folder / name
        if not isinstance(entry, dict):
            return f"{STEP_FILE} lists {name} without its size and checksum"
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != entry.get("bytes"):
            return f"{name} has {path.stat().st_size} bytes, not the {entry.get('bytes')} written"
        if file_sha256(path) != entry.get("sha256"):
            return f"{name} does not match the checksum written with it"
    return ""
