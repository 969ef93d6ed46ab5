"""Tasks declared as data: a classification task from a local file or a Hub dataset, no code.

``study.yaml`` declares them in a ``tasks:`` section (``hscore prune --file`` builds the same
declaration from the command line)::

    tasks:
      my_reviews:
        file: data/reviews.csv        # .csv .tsv .jsonl .json .parquet (relative to study.yaml);
                                      # or train_file + validation_file
        text: review                  # one text column, or [premise, hypothesis] for sentence pairs
        label: stars                  # strings or integers
        id: review_id                 # optional; unique; kept beside the scores and subsets
        labels: [bad, ok, good]       # optional: label names in id order (default: the sorted values)
        metric: accuracy              # accuracy | macro_f1
        validation_fraction: 0.1      # one file: a seeded split, stratified by label
        encoding: utf-8               # of CSV/TSV/JSON files
        drop_empty: false             # true: drop rows whose text is empty, and say how many
        kind: classification          # a kind of hscore.engine.kinds whose rows are texts and a label
        label_noise: {rate: 0.1, seed: 0}   # optional: flip this share of the training labels (the noise
                                      # profile's controlled test, on your data; hscore.data.noise)
      glue_sst2:
        hub: {path: nyu-mll/glue, name: sst2, train: train, eval: [validation]}
        text: sentence
        label: label
        labels: [negative, positive]  # integer labels are ids into these names

The paper's classification tasks (SST-2, MNLI, SNLI) are declared the same way, in
``hscore.data.registry``: one path for built-in and user tasks.

Labels: declared ``labels`` fix the order (label id = position in the list); otherwise the
distinct values are sorted (numerically when all are integers, else as text), so the same file
always gives the same ids. The mapping is recorded with every scoring run (``data.labels``).
An example's id inside the study is its row number in its file (0-based, header excluded), so a
subset is a list of rows of the original file (``hscore.report.prune`` writes them with every column).

File paths are resolved when the declaration is parsed (``parse_spec``: relative to the folder of
``study.yaml``, or of the command line), so a ``TaskSpec`` travels to worker processes and into
every run's record whole. Every problem with the data is one ``DataError`` line that says what to
do, before anything trains (tests cover each). This module imports no torch.
"""

from __future__ import annotations

import codecs
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, DataError, excerpt, excerpts
from ..files import atomic_write_table
from ..metrics import METRICS
from .hub import load_hub
from .noise import LabelNoise
from .split import Split, stratified_split, text_split
from .task import Task

MIN_TRAIN = 20          # fewer training examples than this: R runs of E epochs measure nothing
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet",
           ".pq": "parquet"}
EXTENSIONS = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "parquet": ".parquet"}


def _tuples(value):
    """YAML and JSON give lists; a declaration holds tuples, so it is hashable and compares by value."""
    return tuple(value) if isinstance(value, list) else value


class HubSource(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    path: str
    name: str | None = None
    train: str = "train"
    eval: tuple[str, ...] = ("validation",)   # evaluation splits, reported in this order; (): split off train

    _lists = field_validator("eval", mode="before")(_tuples)


class TaskSpec(BaseModel):
    """One declared task (see the module docstring); file paths are absolute once parsed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    file: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    hub: HubSource | None = None
    text: str | Annotated[tuple[str, ...], Field(min_length=1, max_length=2)]
    label: str
    id: str | None = None
    labels: tuple[str, ...] | None = None
    metric: str = "accuracy"
    validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    encoding: str = "utf-8"
    drop_empty: bool = False
    drop_labels: tuple[int | str, ...] = ()   # rows with these label values are dropped (SNLI: -1, no gold label)
    kind: str = "classification"              # checked against hscore.engine.kinds when a plan is built
    label_noise: LabelNoise | None = None     # flip a seeded, stratified share of training labels (hscore.data.noise)

    _lists = field_validator("text", "labels", "drop_labels", mode="before")(_tuples)

    @model_validator(mode="after")
    def _one_source(self):
        sources = [self.file is not None, self.train_file is not None, self.hub is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of file, train_file (+ validation_file) or hub")
        if self.validation_file is not None and self.train_file is None:
            raise ValueError("validation_file needs train_file")
        if self.label_noise is not None and self.kind != "classification":
            raise ValueError(f"label_noise flips class labels; the {self.kind} kind has none to flip")
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r}: one of {sorted(METRICS)}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"encoding {self.encoding!r} is not a text encoding Python knows "
                             "(e.g. utf-8, latin-1, cp1252)") from None
        return self

    @property
    def text_columns(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)

    @property
    def files(self) -> list[Path]:
        return [Path(f) for f in (self.file, self.train_file, self.validation_file) if f is not None]

    def identity(self) -> dict:
        """What a run's result depends on in this declaration: everything but where the files are
        (their content is fingerprinted with the data) and the label noise (``Task.identity`` holds it)."""
        out = self.model_dump(mode="json", exclude={"file", "train_file", "validation_file", "label_noise"})
        out["source"] = "hub" if self.hub is not None else ("one file" if self.file else "train and validation files")
        return out


def parse_spec(name: str, raw: Any, base_dir: Path | str = ".") -> TaskSpec:
    """A declaration from ``study.yaml`` (or the command line), checked, its file paths made
    absolute (relative ones start at ``base_dir``); one line per problem."""
    if isinstance(raw, dict):
        raw = {k: (str((Path(base_dir) / v).resolve()) if k in ("file", "train_file", "validation_file")
                   and isinstance(v, str) else v) for k, v in raw.items()}
    try:
        return TaskSpec.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(("" if not err["loc"] else ".".join(map(str, err["loc"])) + ": ")
                             + err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise ConfigError(f"tasks.{name}: {problems}") from None


# --- reading --------------------------------------------------------------------------------------

def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    return fmt


def read_table(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A data file as a table of its original columns (CSV and TSV values as text, empty = missing)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the data file itself (CSV, TSV, JSON Lines or Parquet)")
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path (relative paths start at the folder of study.yaml)")
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, encoding=encoding, dtype=False)
        else:
            frame = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", encoding=encoding, dtype=object,
                                keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not {encoding} text (byte {e.start}: {e.reason}); declare its encoding, e.g. "
                        "`encoding: latin-1` (or --encoding latin-1)") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: it has no header and no rows") from None
    except (ValueError, pd.errors.ParserError, OSError) as e:
        raise DataError(f"{path} could not be read as {fmt} ({str(e).splitlines()[0]})") from None
    if frame.empty:
        raise DataError(f"{path} has a header ({excerpts(frame.columns)}) but no rows")
    return frame


def write_table(frame: pd.DataFrame, path: Path, fmt: str, encoding: str = "utf-8") -> None:
    """``frame`` in the format of the input it came from (atomically; texts quoted: ``hscore.files``)."""
    atomic_write_table(path, frame, fmt, encoding)


def _check_columns(frame: pd.DataFrame, spec: TaskSpec, where: str) -> None:
    wanted = spec.text_columns + [spec.label] + ([spec.id] if spec.id else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: no column {excerpts(missing)}; its columns are: {excerpts(frame.columns)}")
    for column in spec.text_columns:
        values = frame[column].dropna()
        odd = values[~values.map(lambda v: isinstance(v, (str, int, float, np.integer, np.floating)))]
        if len(odd):
            kind = "list" if isinstance(odd.iloc[0], (list, tuple, np.ndarray)) else type(odd.iloc[0]).__name__
            raise DataError(f"{where}: column {excerpt(column)} must hold one text per row, but row {odd.index[0]} "
                            f"holds a {kind} ({excerpt(odd.iloc[0])}); join or convert it to text first")
    for column in dict.fromkeys(wanted):   # written back as they came: one type per column
        values = frame[column].dropna()
        is_text = values.map(lambda v: isinstance(v, str)).to_numpy()
        if is_text.any() and not is_text.all():
            text, other = values[is_text], values[~is_text]
            raise DataError(f"{where}: column {excerpt(column)} mixes text and numbers (row {text.index[0]} holds "
                            f"{excerpt(text.iloc[0])}, row {other.index[0]} holds {excerpt(other.iloc[0])}); make it "
                            "one type in the file (every value text, or every value a number)")


def _rows(rows: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _clean_texts(frame: pd.DataFrame, spec: TaskSpec, where: str, notes: list[str]) -> pd.DataFrame:
    empty = np.ones(len(frame), dtype=bool)   # a row is empty when all its texts are (a pair may have one)
    for column in spec.text_columns:
        values = frame[column]
        empty &= values.isna().to_numpy() | values.astype(str).str.strip().eq("").to_numpy()
    if empty.any():
        rows = frame.index.to_numpy()[empty]   # row numbers in the file
        if not spec.drop_empty:
            raise DataError(f"{where}: {len(rows)} row(s) with an empty text (rows {_rows(rows)}, 0-based, header "
                            "excluded); fill them, or drop them with `drop_empty: true` (--drop-empty)")
        notes.append(f"{len(rows)} row(s) of {where} with an empty text dropped (rows {_rows(rows)})")
    return frame.loc[~empty]


@dataclass(frozen=True)
class DeclaredData:
    """A declared task's data: the original tables (train and evaluation splits) and the label mapping."""

    train: pd.DataFrame          # original columns; index = row number in its file (or Hub split)
    evals: dict[str, pd.DataFrame]  # evaluation splits by name ("validation" for files)
    label_names: tuple[str, ...]
    fmt: str                     # the input's format: subsets are written in it
    notes: tuple[str, ...]       # what was done to the data (rows dropped)

    @property
    def validation(self) -> pd.DataFrame:
        return next(iter(self.evals.values()))


def eval_splits(spec: TaskSpec) -> tuple[str, ...]:
    """The evaluation splits a declared task reports, in order."""
    return tuple(spec.hub.eval) if spec.hub is not None and spec.hub.eval else ("validation",)


def _frame(part) -> pd.DataFrame:
    return part.to_pandas() if hasattr(part, "to_pandas") else pd.DataFrame(dict(part))


def _label_strings(values: pd.Series) -> pd.Series:
    """Labels as text, integers without a decimal point (2.0 -> "2")."""
    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()
    return values.map(one)


def _integers(values) -> bool:
    return all(v.lstrip("-").isdigit() for v in values)


def _near_duplicates(labels: pd.Series, where: str) -> None:
    """Labels that differ only in case or spacing (``Positive`` beside ``positive``) are one mistake,
    not two classes: stop and say which, with how many rows each."""
    counts = labels.value_counts()
    groups: dict[str, list[str]] = {}
    for value in counts.index:
        groups.setdefault(" ".join(value.casefold().split()), []).append(value)
    clashes = [names for names in groups.values() if len(names) > 1]
    if clashes:
        shown = "; ".join(" and ".join(f"{excerpt(n)} ({counts[n]} rows)" for n in names) for names in clashes[:3])
        raise DataError(f"{where}: labels that differ only in case or spacing: {shown}. Make them one label in the "
                        "file, or declare every label you mean with `labels:`")


def label_names(spec: TaskSpec, train_labels: pd.Series, where: str) -> tuple[str, ...]:
    """The label names in id order: declared, or the sorted distinct training values."""
    seen = sorted(set(train_labels))
    if spec.labels is not None:
        names = tuple(str(n) for n in spec.labels)
        unknown = [v for v in seen if v not in names]
        if unknown and _integers(seen):   # integer labels are ids into the declared names
            unknown = [v for v in seen if not 0 <= int(v) < len(names)]
        if unknown:
            raise DataError(f"{where}: `labels` declares {len(names)} label(s) ({excerpts(names)}) but the data has "
                            f"{len(seen)}; not declared: {excerpts(unknown)}. Declare every label")
        return names
    _near_duplicates(train_labels, where)
    if _integers(seen):
        seen = sorted(seen, key=int)
    return tuple(seen)


def label_ids(values: pd.Series, names: tuple[str, ...], where: str) -> np.ndarray:
    """Label ids of ``values``: the position of the value among ``names``, or the integer itself
    when the data holds integer ids into declared names."""
    strings = _label_strings(values).tolist()
    if all(v in names for v in strings):
        return np.array([names.index(v) for v in strings], dtype=np.int64)
    if _integers(strings):
        ids = np.array([int(v) for v in strings], dtype=np.int64)
        if ids.min() >= 0 and ids.max() < len(names):
            return ids
    unknown = sorted(set(strings) - set(names))
    raise DataError(f"{where}: label(s) {excerpts(unknown, 5)} are not among {excerpts(names)}")


def load_declared(name: str, spec: TaskSpec, seed: int) -> DeclaredData:
    """Read, check and split a declared task's data (every check one ``DataError``)."""
    notes: list[str] = []
    if spec.hub is not None:
        ds = load_hub(spec.hub.path, spec.hub.name)
        tables = {"train": _frame(ds[spec.hub.train])}
        tables.update({split: _frame(ds[split]) for split in spec.hub.eval})
        fmt, where = "parquet", f"{spec.hub.path}"
    else:
        first = Path(spec.file or spec.train_file)
        fmt, where = file_format(first), str(first)
        tables = {"train": read_table(first, spec.encoding)}
        if spec.validation_file is not None:
            tables["validation"] = read_table(Path(spec.validation_file), spec.encoding)
    for part, frame in tables.items():
        _check_columns(frame, spec, f"{where} ({part})")
        if spec.drop_labels:
            dropped = _label_strings(frame[spec.label]).isin([str(v) for v in spec.drop_labels]).to_numpy()
            if dropped.any():
                notes.append(f"{dropped.sum()} row(s) of {part} labelled {', '.join(map(str, spec.drop_labels))} "
                             "dropped")
            frame = frame.loc[~dropped]
        missing = frame[spec.label].isna().to_numpy()
        if missing.any():
            raise DataError(f"{where} ({part}): {missing.sum()} row(s) without a label (rows "
                            f"{_rows(frame.index.to_numpy()[missing])}); label them or remove them")
        tables[part] = _clean_texts(frame, spec, f"{where} ({part})", notes)
    if spec.id is not None:
        ids = pd.concat([t[spec.id] for t in tables.values()])
        dup = ids[ids.duplicated(keep=False)]
        if len(dup):
            raise DataError(f"{where}: {dup.nunique()} id value(s) of column {spec.id!r} appear more than once "
                            f"(e.g. {excerpts(dup.unique(), 5)}); ids must be unique")
    train_labels = _label_strings(tables["train"][spec.label])
    names = label_names(spec, train_labels, where)
    if len(set(train_labels)) < 2:
        raise DataError(f"{where}: every training example has the label {excerpt(train_labels.iloc[0])}; a classifier "
                        "needs at least two classes")
    if len(tables) == 1:
        counts = train_labels.value_counts()
        small = counts[counts < 2]
        if len(small):
            raise DataError(f"{where}: label(s) {excerpts(small.index)} have a single example; the "
                            "stratified validation split needs at least 2 per label (or give a validation_file)")
        train_pos, val_pos = stratified_split(label_ids(tables["train"][spec.label], names, where),
                                              spec.validation_fraction, seed)
        whole = tables["train"]
        tables = {"train": whole.iloc[train_pos], "validation": whole.iloc[val_pos]}
    else:
        seen = set(label_ids(tables["train"][spec.label], names, where).tolist())
        for part in [p for p in tables if p != "train"]:
            ids = set(label_ids(tables[part][spec.label], names, f"{where} ({part})").tolist())
            unseen = sorted(names[i] for i in ids - seen)
            if unseen:
                raise DataError(f"{where}: the {part} data has label(s) never seen in training: "
                                f"{excerpts(unseen)}; a model cannot learn them")
    if len(tables["train"]) < MIN_TRAIN:
        raise DataError(f"{where}: {len(tables['train'])} training examples; at least {MIN_TRAIN} are needed for "
                        "the scoring runs to mean anything")
    return DeclaredData(tables["train"], {k: v for k, v in tables.items() if k != "train"}, names, fmt,
                        tuple(notes))


def to_split(data: DeclaredData, part: str, spec: TaskSpec) -> Split:
    """A ``Split`` of one part: ids = row numbers in the file, labels = ids of the names."""
    frame = data.train if part == "train" else data.evals[part]
    labels = label_ids(frame[spec.label], data.label_names, part)
    texts = [frame[c].astype(str).tolist() for c in spec.text_columns]
    return text_split(frame.index.to_numpy(), texts[0], texts[1] if len(texts) > 1 else None, labels)


def _stamp(spec: TaskSpec) -> tuple:
    """What a memo of a declaration's data must notice: the files' size and modification time."""
    out = []
    for path in spec.files:
        try:
            st = os.stat(path)
            out.append((str(path), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(path), None, None))
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _label_info(name: str, spec: TaskSpec, stamp: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    data = load_declared(name, spec, 0)
    return data.label_names, data.notes


def declared_task(name: str, spec: TaskSpec, source: str | None = None) -> Task:
    """A ``Task`` whose loader reads the declared data (checked on every load). Without declared
    ``labels`` the data is read for its label names (the model head needs them), once per version
    of the files in a process."""
    def load(seed: int):
        data = load_declared(name, spec, seed)
        return {part: to_split(data, part, spec) for part in ("train", *data.evals)}

    names, notes = (tuple(spec.labels), ()) if spec.labels is not None else _label_info(name, spec, _stamp(spec))
    source = source or (f"{spec.hub.path}{'/' + spec.hub.name if spec.hub.name else ''} (Hugging Face Hub)"
                        if spec.hub else f"{Path(spec.file or spec.train_file).name}"
                        + (f" + {Path(spec.validation_file).name}" if spec.validation_file else ""))
    if notes:
        source += " (" + "; ".join(notes) + ")"
    if spec.label_noise is not None:
        source += f"; {spec.label_noise.describe()}"
    return Task(name, spec.kind, names, spec.metric, eval_splits(spec), load, source, declared=spec,
                label_noise=spec.label_noise)
