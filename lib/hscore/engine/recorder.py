"""Training dynamics from a user's own Hugging Face ``Trainer`` run, written as hscore's file contract.

The H-score needs, for every training row and every epoch, whether the train-step forward pass (train
mode, dropout on, before that step's update) classified the row correctly. A ``Trainer`` computes those
logits anyway; this module keeps them, at no extra forward pass. A user changes a few lines of an
existing script::

    from hscore.engine.recorder import DynamicsRecorder, RecordingTrainer

    trainer = RecordingTrainer(model=model, args=args, train_dataset=train, data_collator=collator,  # was Trainer(
                               dynamics=DynamicsRecorder("classification", output_dir=f"runs/run-{seed}"))
    trainer.train()            # or trainer.train(resume_from_checkpoint=True)

or, for a trainer built elsewhere (any ``Trainer`` subclass): ``record_dynamics(trainer, "classification",
output_dir=...)`` before ``trainer.train()``. Each run then holds ``dynamics.npz`` (``hscore.dynamics``,
its ``order`` the first epoch's: the Trainer reshuffles every epoch, and ``epoch_orders.npz`` beside it
holds every epoch's) and ``step.json`` (``hscore.records``: the resolved training arguments, package
versions, device, the data fingerprint) and ``row_hashes.npz`` (per column of the training set, a hash
of every row: ``hscore.select`` refuses runs, and datasets, whose rows differ); ``hscore select RUN_DIR...``
or ``hscore.select([...])`` (``hscore.study.select_runs``) turn R such runs into H-scores and subsets. The
study's ``engine: trainer`` (``hscore.engine.trainer_route``) trains through the same recorder.

The rules (correct, gold probability, logits) are the task kind's (``hscore.engine.kinds``:
``get_kind(kind).step`` on the model's outputs and the batch's targets), the same code the built-in
loop records with. Kinds: ``classification`` (texts, sentence pairs), ``extractive_qa`` (one row per
window, ``start_positions``/``end_positions``; keep an example id column in the features),
``multiple_choice`` (a multiple-choice head, or 2-label option rows with the id repeated per option).

How (transformers 5.23, accelerate 1.15): public, documented override points of ``Trainer`` only (no private
Trainer method is overridden or called), and one attribute of the DataLoader accelerate prepares:

- ``get_train_dataloader`` (documented "subclass and override"): the training set is wrapped, zero-copy,
  so every row it yields carries its *position* in the training set (``POSITION``); after the Trainer has
  built and ``accelerator.prepare``-d its DataLoader, the loader's ``collate_fn`` (a plain, settable
  attribute of the torch DataLoader that accelerate's ``DataLoaderShard`` iterates as ``base_dataloader``;
  ``skip_first_batches`` copies it on resume) is wrapped so the position is popped from every row *before*
  the Trainer's unused-column filter and the user's collator run, and put back on the batch as one tensor.
  ``remove_unused_columns`` stays on, the user's collator is untouched and never sees the extra key, and
  no id column has to survive anything (huggingface/datasets#3353): the example ids, the targets and the
  data fingerprint are read once, up front, from the user's training set. A position is unique per row
  (QA windows, option rows) and is what the distributed sampler repeats when it pads.
- ``compute_loss`` (documented "subclass and override"): pops the position tensor, reads the targets
  (``labels``; ``start_positions``/``end_positions``) before the Trainer's loss code may pop them, calls the
  Trainer's own ``compute_loss`` with ``return_outputs=True`` (its loss, label smoothing, ``num_items_in_batch``
  and ``compute_loss_func`` unchanged), then hands the outputs to the task kind and writes what it says into
  device buffers. Every call of ``training_step`` is one micro-batch, so gradient accumulation records every
  micro-batch. Values are kept in fp32 whatever the training precision (bf16 and fp16 logits are upcast).
- ``train`` (public): notes the checkpoint a run resumes from.
- a ``TrainerCallback``: ``on_epoch_begin`` / ``on_epoch_end`` (the only host-device synchronisation: the
  epoch's records are gathered across processes, deduplicated, checked), ``on_save`` (the records travel
  inside every checkpoint), ``on_train_end`` (the files are written on the main process).

Rejected alternatives: ``_remove_unused_columns`` / ``_set_signature_columns_if_needed`` (private, and an
id column kept through them still reaches the user's collator, which may choke on it, e.g.
``DataCollatorForMultipleChoice`` indexes every key per choice); adding a column to a ``datasets.Dataset``
(``add_column`` rewrites a dataset with an indices mapping, e.g. after ``shuffle`` or ``train_test_split``);
tracking sampler indices (breaks with prefetching, ``skip_first_batches`` and out-of-order loading); a
callback alone (callbacks never see the forward pass); an extra ``predict`` pass per epoch (a second
forward of the whole training set, in eval mode, after the epoch's updates: other numbers than the
train-step logits the method records).

Distributed (``accelerate launch``, ``torchrun``; DDP, gloo or NCCL): each process keeps its own records
(position, micro-step, correct, target, gold probability, logits) in growing device buffers with no
synchronisation per step; at the end of an epoch they are gathered once (sizes, then the records, packed
into one int64 tensor with the float32 values bit-cast, so the merge is exact) and merged on the main
process. accelerate's ``BatchSamplerShard`` (``even_batches=True``, the default) pads the last round of
batches with rows from the start of the epoch: such repeats are dropped (the first record of a row, in
training order, is kept), counted, their targets checked against the row's, and their correct flags
compared with the kept record's (``step.json``: ``recording``).

Resume from a checkpoint: the Trainer restores model, optimiser, scheduler and RNG, and *skips* the
batches of the interrupted epoch trained before the checkpoint (it does not redo them). So the records of
those batches are **kept**: every checkpoint holds the records made up to its global step (``hscore_dynamics/``
inside the checkpoint folder), and a resumed run continues from them. Records made after the checkpoint
(before the interruption) are discarded together with the training they came from, and are **redone** as the
Trainer redoes those steps. A resumed run thus writes what an uninterrupted run writes. (With
``ignore_data_skip=True`` the Trainer instead trains the interrupted epoch again from its start: its records
in the checkpoint are then discarded and the epoch is recorded from that pass, with a warning.)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Mapping, MutableMapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from ..dynamics import RunDynamics
from ..errors import HScoreError
from ..files import array_fingerprint, atomic_save_npz, atomic_write_json, dataset_row_hashes, row_hashes
from ..paths import KEYS_FILE, ORDERS_FILE, ROW_HASHES_FILE, RUN_FILE
from ..records import finish_step
from .device import describe_device, versions
from .kinds import TaskKind, get_kind

POSITION = "__hscore_row__"        # the batch key that carries each row's position in the training set
CHECKPOINT_DIR = "hscore_dynamics"  # inside a Trainer checkpoint folder: the records up to that step

# Where each kind's targets are, in the training set and in a collated batch (first name present wins).
# ``DataCollatorWithPadding`` and ``default_data_collator`` rename ``label`` to ``labels``.
LABEL_NAMES = ("labels", "label", "label_ids")
TARGET_COLUMNS = {
    "classification": (LABEL_NAMES,),
    "multiple_choice": (LABEL_NAMES,),
    "extractive_qa": (("start_positions",), ("end_positions",)),
}
ID_COLUMNS = ("idx", "id", "example_id")  # tried in this order when no id_column is given
# Training arguments that do not change what is recorded (left out of the run's identity hash).
COSMETIC_ARGS = {"output_dir", "logging_dir", "run_name", "report_to", "disable_tqdm", "overwrite_output_dir",
                 "push_to_hub", "hub_model_id", "hub_strategy", "hub_token", "hub_private_repo",
                 "hub_always_push", "hub_revision", "resume_from_checkpoint", "save_total_limit", "save_steps",
                 "save_strategy", "save_only_model", "save_safetensors", "logging_steps", "logging_strategy",
                 "logging_first_step", "logging_nan_inf_filter", "log_level", "log_level_replica",
                 "log_on_each_node", "dataloader_num_workers", "dataloader_persistent_workers",
                 "dataloader_prefetch_factor", "dataloader_pin_memory", "eval_strategy", "eval_steps",
                 "per_device_eval_batch_size", "eval_accumulation_steps", "eval_delay", "eval_on_start",
                 "project", "trackio_space_id", "trackio_bucket_id"}


class RecorderError(HScoreError, RuntimeError):
    """The run cannot be recorded as hscore's file contract requires (the message says why and what to do)."""


# --- rows: positions in, positions out ----------------------------------------------------------------

class _Positioned(torch.utils.data.Dataset):
    """A map-style view of the training set whose rows carry their position (zero-copy)."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return _tag(self.base[i], i)

    def __getitems__(self, indices):  # torch's batched fetch; datasets.Dataset answers it in one call
        get = getattr(self.base, "__getitems__", None)
        rows = get(list(indices)) if get is not None else [self.base[i] for i in indices]
        return [_tag(row, i) for row, i in zip(rows, indices, strict=True)]


def _tag(row, position) -> dict:
    if not isinstance(row, Mapping):
        raise RecorderError(f"the recorder needs training rows that are mappings (dicts), got {type(row).__name__}")
    row = dict(row)
    row[POSITION] = int(position)
    return row


class _PositionCollator:
    """Pops every row's position before the Trainer's column filter and the user's collator see the row."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, rows):
        positions = [row.pop(POSITION) for row in rows]
        batch = self.inner(rows)
        if not isinstance(batch, MutableMapping):
            raise RecorderError(f"the data collator must return a dict-like batch, got {type(batch).__name__}")
        batch[POSITION] = torch.tensor(positions, dtype=torch.long)
        return batch


# --- what the training set says about its rows ----------------------------------------------------------

def _is_hf_dataset(dataset) -> bool:
    try:
        import datasets
    except ImportError:  # pragma: no cover
        return False
    return isinstance(dataset, datasets.Dataset)


def _columns(dataset) -> list[str]:
    if _is_hf_dataset(dataset):
        return list(dataset.column_names)
    first = dataset[0]
    if not isinstance(first, Mapping):
        raise RecorderError(f"the recorder needs training rows that are mappings (dicts), got {type(first).__name__}")
    return list(first.keys())


def _read_columns(dataset, names: list[str]) -> dict[str, list]:
    """Whole columns as Python lists, in the training set's row order (an indices mapping respected)."""
    if _is_hf_dataset(dataset):
        return dataset.select_columns(names).with_format(None)[:]
    out = {name: [] for name in names}
    for i in range(len(dataset)):
        row = dataset[i]
        for name in names:
            value = row[name]
            out[name].append(value.tolist() if isinstance(value, (torch.Tensor, np.ndarray)) else value)
    return out


def _first_present(names, available) -> str | None:
    return next((n for n in names if n in available), None)


class Rows:
    """Per training row (position 0..N-1): example id, row index within its example, label, target
    (the file contract's arrays), the string ids when the ids are not integers, and a fingerprint of
    the training data. ``from_dataset``: read from a user's training set; ``from_features``: rows the
    study tokenized (``hscore.engine.kinds.Features``)."""

    def __init__(self, example_id, feature, label, target, keys=None, id_column=None, fingerprint=None,
                 hashes=None):
        self.example_id, self.feature, self.label, self.target = example_id, feature, label, target
        self.n = len(example_id)
        self.keys, self.id_column, self.fingerprint = keys, id_column, fingerprint
        self.hashes = hashes   # per column of the user's training set, a hash of every row (files.row_hashes)

    @property
    def target_width(self) -> int:
        return 1 if self.target.ndim == 1 else int(self.target.shape[1])

    @classmethod
    def from_features(cls, features) -> Rows:
        return cls(features.example_id, features.feature, features.labels, features.targets,
                   fingerprint=array_fingerprint(features.targets, features.example_id, features.feature))

    @classmethod
    def from_dataset(cls, dataset, kind: str, id_column: str | None, target_columns, tokenizer,
                     fingerprint: bool = True) -> Rows:
        available = _columns(dataset)
        n = len(dataset)
        target_names = []
        for candidates in target_columns:
            name = _first_present(candidates, available)
            if name is None:
                raise RecorderError(f"the training set has no target column for kind {kind!r}: looked for "
                                    f"{' or '.join(candidates)} among {available}")
            target_names.append(name)
        if id_column is None:
            id_column = _first_present(ID_COLUMNS, available)
            if id_column is None and kind == "extractive_qa":
                raise RecorderError("extractive QA rows are windows of examples: keep an example id column in "
                                    "the training features (e.g. tokenized['example_id'] = [examples['id'][i] for "
                                    "i in sample_mapping]) and pass id_column=")
        elif id_column not in available:
            raise RecorderError(f"id_column {id_column!r} is not a column of the training set ({available})")
        wanted = list(dict.fromkeys(target_names + ([id_column] if id_column else [])
                                    + (["input_ids"] if kind == "extractive_qa" and "input_ids" in available else [])))
        cols = _read_columns(dataset, wanted)
        parts = [np.asarray(cols[name], dtype=np.int64).reshape(n) for name in target_names]
        target = parts[0] if len(parts) == 1 else np.stack(parts, axis=1)
        keys = None
        if id_column is None:
            example_id = np.arange(n, dtype=np.int64)
        else:
            raw = cols[id_column]
            if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw):
                example_id = np.asarray(raw, dtype=np.int64)
            else:  # string ids (SQuAD): the example's index in order of first appearance; the ids kept beside
                first: dict = {}
                example_id = np.array([first.setdefault(v, len(first)) for v in raw], dtype=np.int64)
                keys = list(first)
        # Row index within its example, as the kinds number windows and options: 0, 1, ... in order.
        seen: dict[int, int] = {}
        feature = np.empty(n, dtype=np.int64)
        for i, e in enumerate(example_id.tolist()):
            feature[i] = seen.get(e, 0)
            seen[e] = feature[i] + 1
        if kind == "extractive_qa":  # a window's label: 1 when it holds the answer (target not at the CLS token)
            cls_id = getattr(tokenizer, "cls_token_id", None)
            if cls_id is None:
                cls_id = getattr(tokenizer, "bos_token_id", None)
            if "input_ids" in cols and cls_id is not None:
                cls_at = np.array([list(ids).index(cls_id) if cls_id in ids else 0 for ids in cols["input_ids"]])
            else:
                cls_at = np.zeros(n, dtype=np.int64)
            label = (target[:, 0] != cls_at).astype(np.int64)
        else:
            label = target.copy()
        rows = cls(example_id, feature, label, target, keys, id_column)
        rows.fingerprint = rows.dataset_fingerprint(dataset) if fingerprint else None
        if fingerprint:   # per column, a hash of every row: what select compares runs and datasets by
            rows.hashes = (dataset_row_hashes(dataset, available) if _is_hf_dataset(dataset)
                           else row_hashes(_read_columns(dataset, available)))
        return rows

    def dataset_fingerprint(self, dataset) -> str:
        """A hash of the ids, labels, targets and the content of every column (texts, tokens) of the set."""
        h = hashlib.sha256(array_fingerprint(self.example_id, self.feature, self.label, self.target).encode())
        if _is_hf_dataset(dataset):
            table = dataset.with_format("arrow")
            for start in range(0, len(dataset), 10_000):
                chunk = table[start:start + 10_000]
                for name in sorted(chunk.column_names):
                    h.update(name.encode())
                    _hash_arrow(h, chunk.column(name))
        else:
            for i in range(len(dataset)):
                for name, value in sorted(dataset[i].items()):
                    h.update(name.encode())
                    if isinstance(value, (torch.Tensor, np.ndarray)):
                        value = np.asarray(value)
                        h.update(str(value.dtype).encode() + value.tobytes())
                    else:
                        h.update(json.dumps(value, default=str).encode())
        return h.hexdigest()[:16]


def _hash_arrow(h, array) -> None:
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    t = array.type
    h.update(str(t).encode())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = array.offsets.to_numpy()
        h.update((offsets - offsets[0]).astype(np.int64).tobytes())
        _hash_arrow(h, array.flatten())
    elif pa.types.is_fixed_size_list(t):
        _hash_arrow(h, array.flatten())
    elif pa.types.is_struct(t):
        for i in range(t.num_fields):
            h.update(t.field(i).name.encode())
            _hash_arrow(h, array.field(i))
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        h.update("\x1f".join("\x00" if v is None else str(v) for v in array.to_pylist()).encode())
    else:
        h.update(np.ascontiguousarray(array.to_numpy(zero_copy_only=False)).tobytes())


# --- records on the device -------------------------------------------------------------------------------

class _Buffer:
    """One process's records of the current epoch, on the device; appends never synchronise."""

    def __init__(self):
        self.size = 0
        self.capacity = 0
        self.reserved = 0               # rows this process expects per epoch (allocated at the first append)
        self.device = None
        self.tensors: dict[str, torch.Tensor] = {}

    def _grow(self, need: int, device, target_width: int, logit_width: int) -> None:
        cap = max(need, 2 * self.capacity, 64)
        new = {"pos": torch.empty(cap, dtype=torch.long, device=device),
               "stamp": torch.empty(cap, dtype=torch.long, device=device),
               "correct": torch.empty(cap, dtype=torch.bool, device=device),
               "target": torch.empty((cap, target_width), dtype=torch.long, device=device),
               "prob": torch.empty(cap, dtype=torch.float32, device=device),
               "logits": torch.empty((cap, logit_width), dtype=torch.float32, device=device)}
        for k, t in self.tensors.items():
            new[k][:self.size] = t[:self.size]
        self.tensors, self.capacity, self.device = new, cap, device

    def reserve(self, rows: int) -> None:
        self.reserved = rows

    def append(self, pos, stamp: int, correct, target, prob, logits, logit_width: int) -> None:
        n = pos.shape[0]
        if self.size + n > self.capacity:
            self._grow(max(self.size + n, self.reserved), pos.device, target.shape[1], logit_width)
        s = slice(self.size, self.size + n)
        t = self.tensors
        t["pos"][s] = pos
        t["stamp"][s] = stamp
        t["correct"][s] = correct
        t["target"][s] = target
        t["prob"][s] = prob                      # fp32 whatever the training precision (bf16/fp16 logits upcast)
        if logit_width:
            t["logits"][s] = logits
        self.size += n

    def packed(self, device, target_width: int, logit_width: int) -> torch.Tensor:
        """[rows, 3 + T + 1 + C] int64: position, micro-step, correct, target, then the float32 bits of
        gold_prob and logits (exact through a gather, one collective for everything)."""
        if not self.tensors:
            return torch.empty((0, 4 + target_width + logit_width), dtype=torch.long, device=device)
        t, n = self.tensors, self.size
        bits = lambda x: x.contiguous().view(torch.int32).to(torch.long)
        return torch.cat([t["pos"][:n, None], t["stamp"][:n, None], t["correct"][:n, None].long(), t["target"][:n],
                          bits(t["prob"][:n])[:, None], bits(t["logits"][:n])], dim=1)

    def clear(self) -> None:
        self.size = 0


def _unpack(records: np.ndarray, target_width: int) -> dict[str, np.ndarray]:
    floats = records[:, 3 + target_width:].astype(np.int32).view(np.float32)
    return {"pos": records[:, 0], "stamp": records[:, 1], "correct": records[:, 2].astype(bool),
            "target": records[:, 3:3 + target_width], "prob": floats[:, 0], "logits": floats[:, 1:]}


# --- the recorder ------------------------------------------------------------------------------------------

class DynamicsRecorder:
    """Records a Trainer run's training dynamics (see the module docstring).

    ``kind``: a task kind (its name, or a ``TaskKind``): ``classification`` (one text or a sentence pair),
    ``extractive_qa`` (one row per context window, targets ``start_positions``/``end_positions``),
    ``multiple_choice`` (a multiple-choice head, rows of k options; or, for a model without one, 2-label
    option rows whose id column repeats per option: feature = option). ``output_dir``: the run's folder
    (default ``<args.output_dir>/dynamics``). ``id_column``: the training set's example id column (default:
    the first of ``idx``, ``id``, ``example_id``; else every row is its own example). ``target_columns``:
    where the targets are, in the training set and in a batch (default: the kind's, ``TARGET_COLUMNS``).
    ``keep_logits``: keep the logits where the kind gives them (extractive QA gives none).
    ``rows``: the rows' ids and targets when they are known already (``Rows.from_features``: the study's
    ``engine: trainer``), instead of reading them from the training set. ``write``: write the run's
    files at the end of training (else ``dynamics()`` returns them to the caller).
    """

    def __init__(self, kind: str | TaskKind, output_dir: str | os.PathLike | None = None,
                 id_column: str | None = None, target_columns=None, keep_logits: bool = True,
                 rows: Rows | None = None, write: bool = True):
        self.kind = get_kind(kind) if isinstance(kind, str) else kind
        self.kind_name = self.kind.name
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.id_column = id_column
        if target_columns is None:
            self.target_columns = TARGET_COLUMNS.get(self.kind_name, (LABEL_NAMES,))
        else:
            self.target_columns = tuple((c,) if isinstance(c, str) else tuple(c) for c in target_columns)
        self.keep_logits = keep_logits
        self.write = write
        self.trainer = None
        self.rows: Rows | None = rows
        self._given_rows = rows is not None
        self._rows_of = None            # the training set ``rows`` describe
        self.resume_from: str | None = None
        self.written: Path | None = None
        self._reset()

    @property
    def fingerprint(self) -> str | None:
        return None if self.rows is None else self.rows.fingerprint

    @property
    def target_width(self) -> int:
        return self.rows.target_width if self.rows is not None else len(self.target_columns)

    # -- wiring ---------------------------------------------------------------------------------------------

    def attach(self, trainer) -> DynamicsRecorder:
        self.trainer = trainer
        trainer._hscore_recorder = self
        trainer.add_callback(_RecorderCallback(self))
        return self

    def _reset(self) -> None:
        self.buffer = _Buffer()
        self.micro = 0                  # micro-batches recorded so far in the run (a clock shared by all ranks)
        self.epochs: list[dict] = []    # finished epochs (main process): correct, prob, logits, order, stats
        self.carried: np.ndarray | None = None  # records of the current epoch loaded from a checkpoint
        self.epochs_done = 0
        self.logit_width: int | None = None
        self.started = None
        self.resumed: list[str] = []
        self.dropped: list[dict] = []

    @property
    def _acc(self):
        return self.trainer.accelerator

    @property
    def world(self) -> int:
        return self.trainer.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.trainer.accelerator.is_main_process

    def positioned(self, dataset):
        if dataset is None:
            return dataset
        if isinstance(dataset, torch.utils.data.IterableDataset) or not hasattr(dataset, "__len__"):
            raise RecorderError("the recorder needs a map-style training set with a length (every row, every "
                                "epoch); an IterableDataset has no fixed rows")
        if self.trainer.args.dataloader_drop_last:
            raise RecorderError("dataloader_drop_last=True leaves rows out of every epoch; the H-score needs "
                                "every row in every epoch. Set dataloader_drop_last=False.")
        if self._given_rows:
            if len(dataset) != self.rows.n:
                raise RecorderError(f"the training set has {len(dataset)} rows, the rows given {self.rows.n}")
        elif self._rows_of is not dataset:  # read once per training set (train() may run several times)
            self.rows = Rows.from_dataset(dataset, self.kind_name, self.id_column, self.target_columns,
                                          self.trainer.processing_class, fingerprint=self.is_main)
            self._rows_of = dataset
        return _Positioned(dataset)

    # -- every micro-batch --------------------------------------------------------------------------------

    def batch_targets(self, inputs) -> torch.Tensor:
        """The batch's targets, as the kind's ``step`` takes them: [B] (a class or option) or [B, T]
        (several target columns, or one column of several values: a QA span)."""
        parts = []
        for candidates in self.target_columns:
            name = _first_present(candidates, inputs)
            if name is None:
                raise RecorderError(f"the training batch has no {' or '.join(candidates)} (keys: {list(inputs)})")
            parts.append(inputs[name].long())
        if len(parts) == 1:
            return parts[0]
        return torch.stack([p.reshape(-1) for p in parts], dim=1)

    def record(self, outputs, targets: torch.Tensor, positions: torch.Tensor) -> None:
        if isinstance(outputs, (tuple, list)):
            raise RecorderError("the model returned a tuple; the recorder needs a ModelOutput "
                                "(do not set return_dict=False)")
        with torch.no_grad():
            out = self.kind.step(outputs, targets)   # hscore's rules: correct, gold_prob, logits (fp32)
        if self.logit_width is None:
            self.logit_width = 0 if (out.logits is None or not self.keep_logits) else int(out.logits.shape[-1])
        n = positions.shape[0]
        if out.correct.shape[0] != n:
            raise RecorderError(f"the model gave {out.correct.shape[0]} predictions for a batch of {n} rows")
        positions = positions.to(out.correct.device, non_blocking=True)
        self.buffer.append(positions, self.micro, out.correct, targets.reshape(n, -1), out.gold_prob,
                           None if not self.logit_width else out.logits, self.logit_width)
        self.micro += 1

    # -- epochs -----------------------------------------------------------------------------------------------

    def begin_train(self, args, state, train_dataloader) -> None:
        self._reset()
        self.started = time.time()
        self.steps_per_epoch = self._update_steps_per_epoch(args, train_dataloader)
        if self.resume_from is not None and state.global_step > 0:
            self._load(Path(self.resume_from))
        self.resume_from = None

    @staticmethod
    def _update_steps_per_epoch(args, train_dataloader) -> int:
        # the Trainer's own arithmetic (Trainer.set_initial_training_values)
        n = len(train_dataloader)
        ga = args.gradient_accumulation_steps
        return max(n // ga + int(n % ga > 0), 1)

    def begin_epoch(self, args, state, train_dataloader) -> None:
        self.buffer.reserve(len(train_dataloader) * args.per_device_train_batch_size)
        if not self.is_main:  # the main process alone keeps the epochs
            return
        trainer_epoch = state.global_step // self.steps_per_epoch  # epochs the Trainer has finished
        if self.epochs_done < trainer_epoch and self.carried is not None:
            # resumed from a checkpoint saved at the last step of an epoch, before that epoch ended: its
            # records are all in the checkpoint and the Trainer goes on with the next epoch
            self._finish_carried(stopping=False)
        if self.carried is not None and args.ignore_data_skip:
            # the Trainer runs the interrupted epoch again from its start instead of skipping what it trained
            warnings.warn(f"ignore_data_skip=True: epoch {trainer_epoch + 1} is trained again from its start, so "
                          "the records of its steps in the checkpoint are discarded and redone", stacklevel=2)
            self.carried = None
        if self.epochs_done != trainer_epoch:
            raise RecorderError(f"the recorder finished {self.epochs_done} epochs but the Trainer starts epoch "
                                f"{trainer_epoch + 1}; the checkpoint's records do not fit its training state")

    def _finish_carried(self, stopping: bool) -> None:
        self._finish_epoch(np.empty((0, self.carried.shape[1]), dtype=np.int64), stopping=stopping)

    def end_epoch(self, args, state, control) -> None:
        width = 4 + self.target_width + (self.logit_width or 0)
        packed = self.buffer.packed(args.device, self.target_width, self.logit_width or 0)
        if self.world > 1:  # the one synchronisation of the epoch: sizes, then every process's records
            packed = self._acc.pad_across_processes(packed, dim=0, pad_index=-1)
            packed = self._acc.gather(packed)
        records = packed.cpu().numpy()
        self.buffer.clear()
        stopping = control.should_training_stop or (state.max_steps > 0 and state.global_step >= state.max_steps)
        if self.is_main:
            records = records.reshape(-1, width) if records.size else np.empty((0, width), dtype=np.int64)
            self._finish_epoch(records, stopping=stopping)

    def _finish_epoch(self, records: np.ndarray, stopping: bool) -> None:
        if self.carried is not None:
            records = np.concatenate([self.carried, records]) if len(records) else self.carried
            self.carried = None
        records = records[records[:, 0] >= 0]                    # the padding of the gather
        records = records[np.argsort(records[:, 1], kind="stable")]  # training order: micro-step, rank, row
        r = _unpack(records, self.target_width)
        n = self.rows.n
        if len(r["pos"]) and (r["pos"].max() >= n):
            raise RecorderError(f"a record names row {int(r['pos'].max())} of a training set of {n} rows")
        unique, first = np.unique(r["pos"], return_index=True)
        if len(unique) < n:
            if stopping:  # max_steps or a callback stopped training inside the epoch: not a whole epoch
                self.dropped.append({"epoch": self.epochs_done + 1, "rows_seen": int(len(unique))})
                warnings.warn(f"training stopped inside epoch {self.epochs_done + 1} ({len(unique)} of {n} rows "
                              "seen): that epoch is not recorded (the H-score needs every row in every epoch)",
                              stacklevel=2)
                return
            raise RecorderError(f"epoch {self.epochs_done + 1}: only {len(unique)} of {n} training rows were "
                                "recorded")
        expected = self.rows.target.reshape(n, -1)[r["pos"]]
        wrong = int((r["target"] != expected).any(axis=1).sum())
        if wrong:
            raise RecorderError(f"epoch {self.epochs_done + 1}: {wrong} batch targets differ from the training "
                                "set's (does the collator change labels?)")
        keep = np.sort(first)                                     # each row's first record, in training order
        repeat = np.ones(len(r["pos"]), dtype=bool)
        repeat[keep] = False
        correct = np.empty(n, dtype=bool)
        correct[r["pos"][keep]] = r["correct"][keep]
        prob = np.empty(n, dtype=np.float32)
        prob[r["pos"][keep]] = r["prob"][keep]
        logits = np.empty((n, self.logit_width or 0), dtype=np.float32)
        logits[r["pos"][keep]] = r["logits"][keep]
        disagree = int((r["correct"][repeat] != correct[r["pos"][repeat]]).sum())
        self.epochs.append({"correct": correct, "prob": prob, "logits": logits, "order": r["pos"][keep],
                            "stats": {"records": int(len(r["pos"])), "repeats": int(repeat.sum()),
                                      "repeat_correct_disagreements": disagree,
                                      "micro_batches": int(len(np.unique(r["stamp"])))}})
        self.epochs_done += 1

    # -- checkpoints ----------------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write this process's records of the current epoch (and, on the main process, the finished epochs)
        into a checkpoint folder."""
        folder = Path(folder) / CHECKPOINT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        rank = self._acc.process_index
        packed = self.buffer.packed(self.trainer.args.device, self.target_width, self.logit_width or 0)
        atomic_save_npz(folder / f"rank-{rank}.npz", records=packed.cpu().numpy())
        if self.is_main:
            arrays = {}
            if self.epochs:
                arrays = {k: np.stack([e[k] for e in self.epochs]) for k in ("correct", "prob", "logits", "order")}
            atomic_save_npz(folder / "epochs.npz", **arrays)
            atomic_write_json(folder / "state.json", {
                "micro": self.micro, "epochs_done": self.epochs_done, "rows": self.rows.n,
                "fingerprint": self.fingerprint, "world_size": self.world, "kind": self.kind_name,
                "logit_width": self.logit_width, "stats": [e["stats"] for e in self.epochs],
                "dropped": self.dropped, "resumed": self.resumed})

    def _load(self, checkpoint: Path) -> None:
        folder = checkpoint / CHECKPOINT_DIR
        if not (folder / "state.json").exists():
            raise RecorderError(f"{checkpoint} holds no recorded dynamics ({CHECKPOINT_DIR}/): it was not saved "
                                "by a recording Trainer, so the records of the steps it holds are lost. Start "
                                "the run over to record it.")
        state = json.loads((folder / "state.json").read_text())
        if state["rows"] != self.rows.n or state["kind"] != self.kind_name:
            raise RecorderError(f"{checkpoint} was recorded on {state['rows']} rows of kind {state['kind']!r}, "
                                f"not on this training set ({self.rows.n} rows, {self.kind_name!r})")
        if self.is_main and state["fingerprint"] != self.fingerprint:
            raise RecorderError(f"{checkpoint} was recorded on other training data (fingerprint "
                                f"{state['fingerprint']}, now {self.fingerprint})")
        self.micro, self.epochs_done = state["micro"], state["epochs_done"]
        self.logit_width = state["logit_width"]
        self.dropped, self.resumed = state["dropped"], state["resumed"] + [str(checkpoint)]
        if not self.is_main:
            return
        with np.load(folder / "epochs.npz") as f:
            for e in range(self.epochs_done):
                self.epochs.append({k: f[k][e] for k in ("correct", "prob", "logits", "order")}
                                   | {"stats": state["stats"][e]})
        shards = []
        for rank in range(state["world_size"]):
            path = folder / f"rank-{rank}.npz"
            if not path.exists():
                raise RecorderError(f"{path} is missing: process {rank} did not finish saving its records")
            with np.load(path) as f:
                shards.append(f["records"])
        width = 4 + self.target_width + (self.logit_width or 0)
        carried = np.concatenate([s.reshape(-1, width) for s in shards]) if shards else np.empty((0, width))
        self.carried = carried.astype(np.int64) if len(carried) else None

    # -- the files ------------------------------------------------------------------------------------------

    def dynamics(self) -> RunDynamics | None:
        """The run's record in the file contract's arrays (main process, after training; None when no whole
        epoch was recorded). ``order`` is the first epoch's (``orders()``: every epoch's)."""
        if not self.epochs:
            return None
        rows = self.rows
        return RunDynamics(example_id=rows.example_id, feature=rows.feature, label=rows.label, target=rows.target,
                           order=self.epochs[0]["order"].astype(np.int64),
                           correct=np.stack([e["correct"] for e in self.epochs]),
                           gold_prob=np.stack([e["prob"] for e in self.epochs]).astype(np.float32),
                           logits=np.stack([e["logits"] for e in self.epochs]).astype(np.float32))

    def orders(self) -> np.ndarray:
        """[E, N]: the positions in the order each recorded epoch visited them."""
        return np.stack([e["order"] for e in self.epochs]).astype(np.int64)

    def stats(self) -> list[dict]:
        """Per recorded epoch: records kept and repeated, repeats whose correct flag disagreed, micro-batches."""
        return [e["stats"] for e in self.epochs]

    def finish(self, args, state) -> Path | None:
        """At the end of training (every process calls it): the last epoch's bookkeeping and, on the main
        process with ``write``, the run's files; returns the run's folder (None where nothing was written)."""
        if not self.is_main:
            return None
        if self.carried is not None:  # resumed from a checkpoint at the very last step: no epoch ran since
            self._finish_carried(stopping=True)
        if not self.epochs:
            warnings.warn("no whole epoch was recorded; no dynamics written", stacklevel=2)
            return None
        if not self.write:
            return None
        folder = self.output_dir or Path(args.output_dir) / "dynamics"
        rows = self.rows
        folder.mkdir(parents=True, exist_ok=True)
        self.dynamics().save(folder / RUN_FILE)
        atomic_save_npz(folder / ORDERS_FILE, orders=self.orders())
        files = [RUN_FILE, ORDERS_FILE]
        if rows.keys is not None:
            atomic_write_json(folder / KEYS_FILE, rows.keys)
            files.append(KEYS_FILE)
        if rows.hashes:
            atomic_save_npz(folder / ROW_HASHES_FILE, **rows.hashes)
            files.append(ROW_HASHES_FILE)
        resolved = json.loads(args.to_json_string())
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        config = getattr(model, "config", None)
        identity = {"source": "transformers.Trainer", "kind": self.kind_name, "train_data": self.fingerprint,
                    "model": getattr(config, "_name_or_path", None) or type(model).__name__,
                    "model_class": type(model).__name__, "world_size": self.world,
                    "training_args": {k: v for k, v in resolved.items() if k not in COSMETIC_ARGS}}
        details = {"seed": args.seed, "data_seed": args.data_seed, "training_args": resolved,
                   "versions": {**versions(), "accelerate": _version("accelerate")},
                   "device": describe_device(args.device), "world_size": self.world,
                   "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
                   "model_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
                   "rows": rows.n, "epochs": len(self.epochs), "logit_width": self.logit_width,
                   "example_ids": {"column": rows.id_column, "strings": rows.keys is not None},
                   "recording": self.stats(), "dropped_epochs": self.dropped,
                   "resumed_from": self.resumed, "global_step": state.global_step,
                   "wall_seconds": round(time.time() - self.started, 2),
                   "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        finish_step(folder, identity, files, details)
        return folder


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


class _RecorderCallback(TrainerCallback):
    def __init__(self, recorder: DynamicsRecorder):
        self.recorder = recorder

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        self.recorder.begin_train(args, state, train_dataloader)

    def on_epoch_begin(self, args, state, control, train_dataloader=None, **kwargs):
        self.recorder.begin_epoch(args, state, train_dataloader)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.recorder.end_epoch(args, state, control)

    def on_save(self, args, state, control, **kwargs):
        self.recorder.save(Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")

    def on_train_end(self, args, state, control, **kwargs):
        self.recorder.written = self.recorder.finish(args, state)


# --- the Trainer side ----------------------------------------------------------------------------------------

class RecorderMixin:
    """Put before ``Trainer`` (or any subclass of it) in the bases: ``class T(RecorderMixin, MyTrainer)``."""

    _hscore_recorder: DynamicsRecorder | None = None

    def get_train_dataloader(self):
        recorder = self._hscore_recorder
        if recorder is None:
            return super().get_train_dataloader()
        original = self.train_dataset
        self.train_dataset = recorder.positioned(original)
        try:
            loader = super().get_train_dataloader()
        finally:
            self.train_dataset = original
        # accelerate's DataLoaderShard is an adapter that iterates its ``base_dataloader`` (a torch DataLoader,
        # whose collate_fn is a plain attribute, read when an epoch's iterator starts, and copied by
        # ``skip_first_batches`` on resume)
        inner = loader
        while hasattr(inner, "base_dataloader"):
            inner = inner.base_dataloader
        inner.collate_fn = _PositionCollator(inner.collate_fn)
        return loader

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        recorder = self._hscore_recorder
        positions = inputs.pop(POSITION, None) if isinstance(inputs, MutableMapping) else None
        if recorder is None or not model.training:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        if positions is None:
            raise RecorderError("a training batch came without row positions: the recorder's DataLoader was "
                                "bypassed (a custom get_train_dataloader?)")
        targets = recorder.batch_targets(inputs)  # before the Trainer's loss code pops labels
        result = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise RecorderError("compute_loss(return_outputs=True) must return (loss, outputs)")
        loss, outputs = result
        recorder.record(outputs, targets, positions)
        return (loss, outputs) if return_outputs else loss

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        recorder = self._hscore_recorder
        if recorder is not None:
            checkpoint = resume_from_checkpoint
            if checkpoint is True:
                checkpoint = get_last_checkpoint(self.args.output_dir)
            recorder.resume_from = checkpoint if checkpoint not in (None, False) else None
        return super().train(resume_from_checkpoint, *args, **kwargs)


class RecordingTrainer(RecorderMixin, Trainer):
    """A ``Trainer`` that records training dynamics: ``RecordingTrainer(..., dynamics=DynamicsRecorder(kind))``."""

    def __init__(self, *args, dynamics: DynamicsRecorder | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if dynamics is not None:
            dynamics.attach(self)


def record_dynamics(trainer, kind: str, **options) -> DynamicsRecorder:
    """Record an existing trainer's run (any ``Trainer`` subclass); returns the recorder."""
    if not isinstance(trainer, RecorderMixin):
        cls = type(trainer)
        trainer.__class__ = type(f"Recording{cls.__name__}", (RecorderMixin, cls), {"__module__": cls.__module__})
    return DynamicsRecorder(kind, **options).attach(trainer)
