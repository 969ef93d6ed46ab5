"""The results store: a step's lock, and its record (``step.json``, written by ``hscore.records``).

A step is finished when its ``step.json`` exists (``hscore.records``: written last, with the hash
of the step's identity, ``hscore.study.run``, and the size and SHA-256 of each file it wrote). An
interrupted step leaves no ``step.json`` and is simply redone.

``step_lock`` makes a step run once even when several processes (``--jobs``, two invocations,
Slurm jobs) reach it: the process holding a step's lock runs it, the others wait and then find it
finished. The lock is an OS file lock, released when its process ends, killed or not.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from .. import paths
from ..errors import ResultsFolderError
from ..records import STEP_FILE, file_entry, finish_step, read_record, verify

__all__ = ["STEP_FILE", "file_entry", "finish_step", "held", "read_record", "step_lock", "verify"]


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
