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
      glue_sst2:
        hub: {path: nyu-mll/glue, name: sst2, train: train, eval: [validation]}
        text: sentence
        label: label
        labels: [negative, positive]  # integer labels are ids into these names

The paper's classification tasks (SST-2, MNLI, SNLI) are declared the same way, in
``hscore.tasks``: one path for built-in and user tasks.

Labels: declared ``labels`` fix the order (label id = position in the list); otherwise the
distinct values are sorted (numerically when all are integers, else as text), so the same file
always gives the same ids. The mapping is recorded with every scoring run (``data.labels``).
An example's id inside the study is its row number in its file (0-based, header excluded), so a
subset is a list of rows of the original file (``hscore.prune`` writes them with every column).

Every problem with the data is one ``DataError`` line that says what to do (tests cover each).
This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError, DataError
from .metrics import METRICS

MIN_TRAIN = 20          # fewer training examples than this: R runs of E epochs measure nothing
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet",
           ".pq": "parquet"}


class HubSource(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    path: str
    name: str | None = None
    train: str = "train"
    eval: list[str] = ["validation"]   # evaluation splits, reported in this order; []: split off train


class TaskSpec(BaseModel):
    """One declared task (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    file: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    hub: HubSource | None = None
    text: str | Annotated[list[str], Field(min_length=1, max_length=2)]
    label: str
    id: str | None = None
    labels: list[str] | None = None
    metric: str = "accuracy"
    validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    encoding: str = "utf-8"
    drop_empty: bool = False
    drop_labels: list[int | str] = []   # rows with these label values are dropped (SNLI: -1, no gold label)

    @model_validator(mode="after")
    def _one_source(self):
        sources = [self.file is not None, self.train_file is not None, self.hub is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of file, train_file (+ validation_file) or hub")
        if self.validation_file is not None and self.train_file is None:
            raise ValueError("validation_file needs train_file")
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r}: one of {sorted(METRICS)}")
        return self

    @property
    def text_columns(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)


def parse_spec(name: str, raw: Any) -> TaskSpec:
    """A declaration from ``study.yaml`` (or the command line), checked; one line per problem."""
    try:
        return TaskSpec.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or name}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"tasks.{name}: {problems}") from None


# --- reading --------------------------------------------------------------------------------------

def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    return fmt


def read_table(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A data file as a table of its original columns."""
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path (relative paths start at the folder of study.yaml)")
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True, encoding=encoding, dtype=False)
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", encoding=encoding, dtype=object,
                           keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not {encoding} text (byte {e.start}: {e.reason}); declare its encoding, e.g. "
                        "`encoding: latin-1` (or --encoding latin-1)") from None
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{path} could not be read as {fmt} ({str(e).splitlines()[0]})") from None


def write_table(frame: pd.DataFrame, path: Path, fmt: str, encoding: str = "utf-8") -> None:
    """``frame`` in the format of the input it came from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, sep="\t" if fmt == "tsv" else ",", index=False, encoding=encoding)


def _check_columns(frame: pd.DataFrame, spec: TaskSpec, where: str) -> None:
    wanted = spec.text_columns + [spec.label] + ([spec.id] if spec.id else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: no column {', '.join(map(repr, missing))}; its columns are: "
                        f"{', '.join(map(str, frame.columns))}")


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


def label_names(spec: TaskSpec, train_labels: pd.Series, where: str) -> tuple[str, ...]:
    """The label names in id order: declared, or the sorted distinct training values."""
    seen = sorted(set(train_labels))
    if spec.labels is not None:
        names = tuple(str(n) for n in spec.labels)
        unknown = [v for v in seen if v not in names]
        if unknown and _integers(seen):   # integer labels are ids into the declared names
            unknown = [v for v in seen if not 0 <= int(v) < len(names)]
        if unknown:
            raise DataError(f"{where}: `labels` declares {len(names)} label(s) ({', '.join(names)}) but the data has "
                            f"{len(seen)}; not declared: {', '.join(unknown)}. Declare every label")
        return names
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
    raise DataError(f"{where}: label(s) {', '.join(unknown[:5])} are not among {', '.join(names)}")


def load_declared(name: str, spec: TaskSpec, base_dir: Path, seed: int) -> DeclaredData:
    """Read, check and split a declared task's data (every check one ``DataError``)."""
    notes: list[str] = []
    if spec.hub is not None:
        from .tasks import _load_hub

        ds = _load_hub(spec.hub.path, spec.hub.name)
        tables = {"train": _frame(ds[spec.hub.train])}
        tables.update({split: _frame(ds[split]) for split in spec.hub.eval})
        fmt, where = "parquet", f"{spec.hub.path}"
    else:
        first = base_dir / (spec.file or spec.train_file)
        fmt, where = file_format(first), str(first)
        tables = {"train": read_table(first, spec.encoding)}
        if spec.validation_file is not None:
            tables["validation"] = read_table(base_dir / spec.validation_file, spec.encoding)
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
                            f"(e.g. {', '.join(map(str, dup.unique()[:5]))}); ids must be unique")
    train_labels = _label_strings(tables["train"][spec.label])
    names = label_names(spec, train_labels, where)
    if len(set(train_labels)) < 2:
        raise DataError(f"{where}: every training example has the label {train_labels.iloc[0]!r}; a classifier "
                        "needs at least two classes")
    if len(tables) == 1:
        counts = train_labels.value_counts()
        small = counts[counts < 2]
        if len(small):
            raise DataError(f"{where}: label(s) {', '.join(map(str, small.index))} have a single example; the "
                            "stratified validation split needs at least 2 per label (or give a validation_file)")
        from .tasks import stratified_split

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
                                f"{', '.join(unseen)}; a model cannot learn them")
    if len(tables["train"]) < MIN_TRAIN:
        raise DataError(f"{where}: {len(tables['train'])} training examples; at least {MIN_TRAIN} are needed for "
                        "the scoring runs to mean anything")
    return DeclaredData(tables["train"], {k: v for k, v in tables.items() if k != "train"}, names, fmt,
                        tuple(notes))


def to_split(data: DeclaredData, part: str, spec: TaskSpec):
    """A ``tasks.Split`` of one part: ids = row numbers in the file, labels = ids of the names."""
    from .tasks import text_split

    frame = data.train if part == "train" else data.evals[part]
    labels = label_ids(frame[spec.label], data.label_names, part)
    texts = [frame[c].astype(str).tolist() for c in spec.text_columns]
    return text_split(frame.index.to_numpy(), texts[0], texts[1] if len(texts) > 1 else None, labels)


def declared_task(name: str, spec: TaskSpec, base_dir: Path, source: str | None = None):
    """A ``tasks.Task`` whose loader reads the declared data (checked on every load). Without
    declared ``labels`` the data is read once here for its label names (the model head needs them)."""
    from .tasks import Task

    def load(seed: int):
        data = load_declared(name, spec, base_dir, seed)
        return {part: to_split(data, part, spec) for part in ("train", *data.evals)}

    names, notes = (tuple(spec.labels), ()) if spec.labels is not None else (
        lambda d: (d.label_names, d.notes))(load_declared(name, spec, base_dir, 0))
    source = source or (f"{spec.hub.path}{'/' + spec.hub.name if spec.hub.name else ''} (Hugging Face Hub)"
                        if spec.hub else f"{spec.file or spec.train_file}"
                        + (f" + {spec.validation_file}" if spec.validation_file else ""))
    if notes:
        source += " (" + "; ".join(notes) + ")"
    return Task(name, "classification", names, spec.metric, eval_splits(spec), load, source,
                declared=(spec, base_dir))
