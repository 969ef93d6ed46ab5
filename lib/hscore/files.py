"""Writing files so that a kill leaves the old file or the new one, and checking them later.

Every file the study writes goes through ``atomic_write_bytes``: written to a temporary name in the
same folder, flushed to disk and renamed into place. ``file_sha256`` and ``array_fingerprint``
give the checksums and fingerprints that step records hold (``hscore.study.store``); ``to_json``
is how every record is serialised (numpy scalars and arrays, tuples and paths as JSON values).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ResultsFolderError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename. A file
    system that refuses (full, read-only, no permission) is one ``ResultsFolderError`` line naming
    the file; what was there before is left as it was."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, ResultsFolderError):
            raise ResultsFolderError(f"cannot write {path} ({e.strerror or e}); free disk space or make the folder "
                                     "writable (HSCORE_RESULTS_DIR moves the results), then run again") from None
        raise


def json_default(o):
    """JSON values of what ``json`` cannot write itself: numpy scalars and arrays, tuples, sets, paths."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, (np.ndarray, tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(obj: Any) -> str:
    """The canonical text of a record: sorted keys, indented."""
    return json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n"


def plain(obj: Any):
    """``obj`` as JSON reads it back (tuples become lists), so a recorded value compares equal to a fresh one."""
    return json.loads(json.dumps(obj, default=json_default))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, to_json(obj).encode())


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_parquet(path: Path, frame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_table(path: Path, frame, fmt: str, encoding: str = "utf-8") -> None:
    """A table in one of the formats a user's data comes in: ``csv``, ``tsv``, ``jsonl`` or ``parquet``.

    CSV and TSV quote every text field, so texts holding line breaks (``\\r`` included, which a
    minimal quoting leaves bare) or separators read back as the same rows."""
    if fmt == "parquet":
        atomic_write_parquet(path, frame)
        return
    if fmt == "jsonl":
        text = frame.to_json(orient="records", lines=True, force_ascii=False)
        text = text if text.endswith("\n") or not text else text + "\n"
    else:
        text = frame.to_csv(sep="\t" if fmt == "tsv" else ",", index=False, quoting=csv.QUOTE_NONNUMERIC,
                            lineterminator="\n")
    atomic_write_bytes(path, text.encode(encoding))


def identity_hash(identity: dict) -> str:
    """A stable short hash of everything a step's result depends on."""
    text = json.dumps(identity, sort_keys=True, default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def row_hashes(columns: dict[str, list]) -> dict[str, np.ndarray]:
    """Per column, a 64-bit hash of each row's value (its canonical JSON text; arrays as lists): what
    tells one training row from another. The Trainer recorder keeps them per run (``row_hashes.npz``);
    ``hscore.select`` compares runs, and the datasets it is given, row by row with them."""
    def one(value) -> int:
        text = json.dumps(value.tolist() if hasattr(value, "tolist") else value, sort_keys=True,
                          default=json_default, ensure_ascii=False)
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return {name: np.fromiter((one(v) for v in values), dtype=np.uint64, count=len(values))
            for name, values in columns.items()}


def dataset_row_hashes(dataset, names: list[str], chunk: int = 10_000) -> dict[str, np.ndarray]:
    """``row_hashes`` of the columns ``names`` of a ``datasets.Dataset``, read ``chunk`` rows at a time (memory
    bounded by a chunk, not the dataset: a tokenized set of 400k rows is gigabytes as Python lists)."""
    view = dataset.select_columns(names).with_format(None)
    parts = [row_hashes(view[start:start + chunk]) for start in range(0, len(dataset), chunk)]
    return {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0, dtype=np.uint64)
            for name in names}


def array_fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of array contents (e.g. the positions a run trained on)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
