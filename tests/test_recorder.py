"""Tests of the Trainer recorder: offline, CPU, a random 2-layer 32-wide BERT with the MiniLM tokenizer.

The central check (``check_against_forward``): a forward hook keeps what every train-mode forward of the
model computed; each recorded (epoch, row) must be exactly that forward's logits, and correct / gold_prob
must follow hscore's rules on them. Rows are found by their tokens, independently of the recorder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import DataCollatorForMultipleChoice, DataCollatorWithPadding, Trainer, TrainerCallback

import trainer_ddp
import trainer_fixtures as tf
from hscore.dynamics import RunDynamics, TrainingDynamics
from hscore.engine.recorder import (
    CHECKPOINT_DIR,
    KEYS_FILE,
    ORDERS_FILE,
    DynamicsRecorder,
    RecorderError,
    RecordingTrainer,
    Rows,
    record_dynamics,
)
from hscore.files import file_sha256
from hscore.paths import RUN_FILE, STEP_FILE
from hscore.pruning.scores import h_score, scores_table
from hscore.pruning.subsets import hscore_subset, subset_family

HERE = Path(__file__).parent
PAD = lambda: DataCollatorWithPadding(tf.tokenizer())


# --- helpers ---------------------------------------------------------------------------------------------

class Capture:
    """Every forward of a model: train mode or not, the input ids, the outputs (and, with ``snapshot``,
    the weights the forward ran with)."""

    def __init__(self, model, snapshot: bool = False):
        self.calls, self.snapshot, self.state = [], snapshot, None
        model.register_forward_hook(self._after, with_kwargs=True)
        if snapshot:
            model.register_forward_pre_hook(self._before, with_kwargs=True)

    def _before(self, module, args, kwargs):
        self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def _after(self, module, args, kwargs, output):
        call = {"training": module.training, "inputs": {k: v.detach().clone() for k, v in kwargs.items()
                                                        if isinstance(v, torch.Tensor) and k != "labels"},
                "state": self.state}
        if hasattr(output, "start_logits"):
            call["start"], call["end"] = output.start_logits.detach().float(), output.end_logits.detach().float()
        else:
            call["logits"] = output.logits.detach().float()
        self.calls.append(call)

    @property
    def train_calls(self):
        return [c for c in self.calls if c["training"]]


def row_keys(dataset) -> dict:
    """Training-set position of every row, by its tokens (options' tokens for multiple choice)."""
    keys = {}
    for i, ids in enumerate(dataset["input_ids"]):
        key = tuple(tf.row_key(o) for o in ids) if isinstance(ids[0], list) else tf.row_key(ids)
        assert key not in keys, "fixture rows must be unique"
        keys[key] = i
    return keys


def batch_positions(input_ids: torch.Tensor, keys: dict) -> list[int]:
    if input_ids.dim() == 3:
        return [keys[tuple(tf.row_key(o) for o in row)] for row in input_ids]
    return [keys[tf.row_key(row)] for row in input_ids]


def load(out: Path):
    run = RunDynamics.load(out / RUN_FILE)
    orders = np.load(out / ORDERS_FILE)["orders"]
    return run, orders, json.loads((out / STEP_FILE).read_text())


def train(tmp_path, kind, data, model, collator=None, recorder=None, callbacks=None, resume=None, name="run",
          trainer_cls=RecordingTrainer, **argkw):
    out = tmp_path / name
    trainer = trainer_cls(model=model, args=tf.args(tmp_path / f"{name}-trainer", **argkw), train_dataset=data,
                          data_collator=collator, processing_class=tf.tokenizer(), callbacks=callbacks,
                          dynamics=DynamicsRecorder(kind, output_dir=out, **(recorder or {})))
    trainer.train(resume_from_checkpoint=resume)
    return trainer, out


def check_against_forward(run: RunDynamics, orders: np.ndarray, capture: Capture, dataset, kind: str) -> None:
    """Every record is the train-step forward's own output for that row; rules as hscore's kinds."""
    calls = capture.train_calls
    epochs = run.correct.shape[0]
    assert len(calls) % epochs == 0
    per_epoch = len(calls) // epochs
    keys = row_keys(dataset)
    for e in range(epochs):
        seen = []
        for call in calls[e * per_epoch:(e + 1) * per_epoch]:
            pos = batch_positions(call["inputs"]["input_ids"], keys)
            seen += pos
            target = torch.as_tensor(run.target[pos])
            if kind == "extractive_qa":
                s, t = call["start"], call["end"]
                correct = (s.argmax(-1) == target[:, 0]) & (t.argmax(-1) == target[:, 1])
                gold = (s.softmax(-1).gather(1, target[:, :1])[:, 0] + t.softmax(-1).gather(1, target[:, 1:])[:, 0]) / 2
                assert run.logits.shape[-1] == 0
            else:
                logits = call["logits"]
                assert torch.equal(torch.from_numpy(run.logits[e, pos]), logits)   # the very same logits
                correct = logits.argmax(-1) == target
                gold = logits.softmax(-1).gather(1, target[:, None])[:, 0]
            assert np.array_equal(run.correct[e, pos], correct.numpy())
            np.testing.assert_allclose(run.gold_prob[e, pos], gold.numpy(), rtol=1e-6, atol=1e-7)
        assert seen == orders[e].tolist()                                       # training order, every row once
        assert sorted(seen) == list(range(len(keys)))


# --- each kind through the recorder ------------------------------------------------------------------------

def test_classification_sentence_pairs(tmp_path):
    data = tf.classification_data(40)
    model = tf.tiny_model()
    cap = Capture(model)
    trainer, out = train(tmp_path, "classification", data, model, PAD())
    run, orders, step = load(out)
    assert run.correct.shape == (2, 40) and run.logits.shape == (2, 40, 3)
    assert run.correct.dtype == bool and run.gold_prob.dtype == np.float32 and run.logits.dtype == np.float32
    assert np.array_equal(run.example_id, data["idx"]) and not run.feature.any()
    assert np.array_equal(run.target, data["label"]) and np.array_equal(run.label, data["label"])
    assert np.array_equal(run.order, orders[0]) and not np.array_equal(orders[0], orders[1])  # reshuffled
    check_against_forward(run, orders, cap, data, "classification")
    # step.json: written last, with checksums, resolved training arguments, versions, a data fingerprint
    for name, entry in step["files"].items():
        assert file_sha256(out / name) == entry["sha256"] and (out / name).stat().st_size == entry["bytes"]
    assert step["training_args"]["per_device_train_batch_size"] == 8 and step["seed"] == 7
    assert {"hscore", "torch", "transformers", "accelerate", "datasets"} <= set(step["versions"])
    rows = Rows.from_dataset(data, "classification", None, (("label",),), None)
    assert step["identity"]["train_data"] == rows.fingerprint
    assert step["recording"] == [{"records": 40, "repeats": 0, "repeat_correct_disagreements": 0,
                                  "micro_batches": 5}] * 2
    assert step["epochs"] == 2 and step["world_size"] == 1 and step["precision"] == "fp32"


def test_data_fingerprint_covers_ids_labels_and_texts():
    data = tf.classification_data(12)
    fp = lambda d: Rows.from_dataset(d, "classification", "idx", (("label",),), None).fingerprint
    base = fp(data)
    assert fp(data) == base
    assert fp(data.map(lambda r, i: {"idx": r["idx"] + (i == 3)}, with_indices=True)) != base
    assert fp(data.map(lambda r, i: {"label": (r["label"] + (i == 3)) % 3}, with_indices=True)) != base
    assert fp(data.map(lambda r, i: {"sentence2": r["sentence2"] + ("!" if i == 3 else "")}, with_indices=True)) != base
    assert fp(data.shuffle(seed=1)) != base  # the rows' order is part of the data


def test_extractive_qa_windows(tmp_path):
    data = tf.qa_data(12)
    ids = data["example_id"]
    assert len(data) > len(set(ids))  # several windows per example
    model = tf.tiny_model("extractive_qa")
    cap = Capture(model)
    _, out = train(tmp_path, "extractive_qa", data, model, PAD())
    run, orders, step = load(out)
    keys = json.loads((out / KEYS_FILE).read_text())
    assert keys == list(dict.fromkeys(ids)) and [keys[i] for i in run.example_id] == ids
    windows = [sum(1 for j in ids[:i] if j == ids[i]) for i in range(len(ids))]
    assert run.feature.tolist() == windows
    assert run.target.shape == (len(data), 2)
    assert np.array_equal(run.target, np.stack([data["start_positions"], data["end_positions"]], 1))
    assert np.array_equal(run.label, (run.target[:, 0] != 0).astype(np.int64))  # the window holds the answer
    assert run.logits.shape == (2, len(data), 0)
    check_against_forward(run, orders, cap, data, "extractive_qa")
    assert step["example_ids"] == {"column": "example_id", "strings": True}
    by_example = TrainingDynamics.from_runs([run], (7,)).by_example()
    assert by_example.correct.shape == (1, 2, len(keys))


def test_multiple_choice(tmp_path):
    data = tf.mc_data(24)
    model = tf.tiny_model("multiple_choice")
    cap = Capture(model)
    # DataCollatorForMultipleChoice indexes every key of a row per choice: an id column reaching it breaks
    # it; the Trainer drops idx (remove_unused_columns) and the recorder's position never reaches it
    _, out = train(tmp_path, "multiple_choice", data, model, DataCollatorForMultipleChoice(tf.tokenizer()))
    run, orders, _ = load(out)
    assert run.logits.shape == (2, 24, 3) and np.array_equal(run.example_id, data["idx"])
    check_against_forward(run, orders, cap, data, "multiple_choice")


def test_multiple_choice_option_rows(tmp_path):
    """A model without a multiple-choice head: one 2-label row per option (hscore's option_rows)."""
    mc = tf.mc_data(10)
    rows = {"idx": [], "label": [], "input_ids": [], "token_type_ids": [], "attention_mask": []}
    for r in mc:
        for k in range(3):
            rows["idx"].append(r["idx"])
            rows["label"].append(int(k == r["label"]))
            for c in ("input_ids", "token_type_ids", "attention_mask"):
                rows[c].append(r[c][k])
    import datasets
    data = datasets.Dataset.from_dict(rows)
    model = tf.tiny_model("classification", num_labels=2)
    cap = Capture(model)
    _, out = train(tmp_path, "multiple_choice", data, model, PAD())
    run, orders, _ = load(out)
    assert run.feature.tolist() == [0, 1, 2] * 10 and run.logits.shape == (2, 30, 2)
    check_against_forward(run, orders, cap, data, "multiple_choice")


# --- ids whatever the Trainer does with columns ------------------------------------------------------------

class ListDataset(torch.utils.data.Dataset):
    """Not a datasets.Dataset: the Trainer filters its rows' keys in a collator wrapper instead."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return dict(self.rows[i])


@pytest.mark.parametrize("variant", ["shuffled", "torch_dataset", "remove_unused_columns_off", "workers"])
def test_ids_survive_remove_unused_columns(tmp_path, variant):
    data = tf.classification_data(32, pairs=False)
    argkw, expect_ids = {}, None
    if variant == "shuffled":  # an indices mapping (shuffle, train_test_split): rows are in the mapped order
        data = data.shuffle(seed=3)
        argkw = dict(eval_strategy="epoch", per_device_eval_batch_size=8)
        expect_ids = data["idx"]
    elif variant == "torch_dataset":
        expect_ids = data["idx"]
        data = ListDataset([dict(r) for r in data])   # idx, sentence1 (text), label, model inputs
    elif variant == "workers":  # rows fetched and collated in two worker processes
        argkw = dict(dataloader_num_workers=2)
        expect_ids = data["idx"]
    else:  # the user turned column removal off: only model columns, so the ids are the positions
        data = data.remove_columns(["idx", "sentence1"])
        argkw = dict(remove_unused_columns=False)
        expect_ids = list(range(32))
    model = tf.tiny_model()
    cap = Capture(model)
    trainer_kw = {"eval_dataset": tf.classification_data(8, seed=5, pairs=False)} if variant == "shuffled" else {}
    out = tmp_path / "run"
    trainer = RecordingTrainer(model=model, args=tf.args(tmp_path / "t", **argkw), train_dataset=data,
                               data_collator=PAD(), processing_class=tf.tokenizer(),
                               dynamics=DynamicsRecorder("classification", output_dir=out), **trainer_kw)
    trainer.train()
    run, orders, _ = load(out)
    assert run.example_id.tolist() == list(expect_ids)
    rows = {"input_ids": [r["input_ids"] for r in data.rows]} if isinstance(data, ListDataset) else data
    check_against_forward(run, orders, cap, rows, "classification")
    if variant == "shuffled":  # evaluation batches go through compute_loss without positions, unrecorded
        assert sum("eval_loss" in h for h in trainer.state.log_history) == 2
        assert len(cap.calls) - len(cap.train_calls) == 2


# --- micro-batches, precision, recomputation ------------------------------------------------------------------

def test_gradient_accumulation_records_every_micro_batch(tmp_path):
    data = tf.classification_data(26)
    model = tf.tiny_model()
    cap = Capture(model)
    trainer, out = train(tmp_path, "classification", data, model, PAD(), per_device_train_batch_size=4,
                         gradient_accumulation_steps=3)
    run, orders, step = load(out)
    assert len(cap.train_calls) == 2 * 7                 # ceil(26 / 4) micro-batches per epoch
    assert trainer.state.global_step == 2 * 3            # ceil(7 / 3) optimiser steps per epoch
    assert [s["micro_batches"] for s in step["recording"]] == [7, 7]
    check_against_forward(run, orders, cap, data, "classification")


def test_without_dropout_records_equal_a_manual_recomputation(tmp_path):
    """The weights each train-step forward ran with are kept; the rows are recomputed afterwards, in eval
    mode (no dropout: the same function): the recorder's correct flags are identical."""
    data = tf.classification_data(24)
    model = tf.tiny_model(dropout=0.0)
    cap = Capture(model, snapshot=True)
    _, out = train(tmp_path, "classification", data, model, PAD(), learning_rate=5e-3)
    run, orders, _ = load(out)
    fresh = tf.tiny_model(dropout=0.0).eval()
    keys = row_keys(data)
    per_epoch = len(cap.train_calls) // 2
    manual = np.zeros_like(run.logits)
    for i, call in enumerate(cap.train_calls):
        fresh.load_state_dict(call["state"])
        with torch.no_grad():
            logits = fresh(**call["inputs"]).logits
        manual[i // per_epoch, batch_positions(call["inputs"]["input_ids"], keys)] = logits.numpy()
    assert np.array_equal(run.correct, manual.argmax(-1) == run.target[None])
    np.testing.assert_allclose(run.logits, manual, atol=1e-6)
    assert np.abs(run.logits[1] - run.logits[0]).max() > 1e-3   # the weights did change between epochs


@pytest.mark.parametrize("precision", ["bf16_autocast", "bf16_weights", "fp16_flag"])
def test_half_precision_keeps_fp32_records(tmp_path, precision):
    """bf16 autocast (``bf16=True``; accelerate runs it on the CPU too), a model whose weights are bf16 (its
    logits are bf16), and ``fp16=True`` (on the CPU accelerate runs no fp16 autocast: fp32 compute; on a GPU
    the logits are fp16, upcast the same way): every record is kept in fp32 and follows the logits."""
    data = tf.classification_data(24)
    model = tf.tiny_model()
    argkw = {"bf16_autocast": dict(bf16=True), "bf16_weights": {}, "fp16_flag": dict(fp16=True)}[precision]
    if precision == "bf16_weights":
        model = model.to(torch.bfloat16)
    cap = Capture(model)
    _, out = train(tmp_path, "classification", data, model, PAD(), **argkw)
    run, orders, step = load(out)
    assert step["precision"] == {"bf16_autocast": "bf16", "bf16_weights": "fp32", "fp16_flag": "fp16"}[precision]
    assert step["model_dtype"] == ("bfloat16" if precision == "bf16_weights" else "float32")
    assert run.gold_prob.dtype == np.float32 and run.logits.dtype == np.float32
    logits = torch.from_numpy(run.logits)
    if precision != "fp16_flag":  # the forward ran in bf16; its logits are kept exactly, in fp32
        assert torch.equal(logits.bfloat16().float(), logits)
    check_against_forward(run, orders, cap, data, "classification")


# --- several processes -----------------------------------------------------------------------------------------

def test_the_pages_cpu_command_really_starts_two_processes(tmp_path):
    """The command *Score your own Trainer run* gives for two processes on a CPU, run as written (the script
    swapped for ours): two processes with gloo, every row recorded once per epoch."""
    nb = json.loads((HERE.parent / "notebooks" / "trainer.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    (command,) = re.findall(r"On a CPU, `(torchrun [^`]*)`", text)
    assert command.endswith(" train.py")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "lib"), os.environ.get("PYTHONPATH", "")])}
    argv = [str(Path(sys.executable).parent / "torchrun"), *command.split()[1:-1], str(HERE / "trainer_ddp.py"),
            str(tmp_path), "--rows", "40"]
    subprocess.run(argv, check=True, env=env, cwd=HERE, capture_output=True, timeout=300)
    assert json.loads((tmp_path / "n40" / "world.json").read_text()) == {"world_size": 2, "backend": "gloo"}
    run, orders, step = load(tmp_path / "n40")
    assert step["world_size"] == 2 and [s["records"] for s in step["recording"]] == [40, 40]
    assert all(sorted(o) == list(range(40)) for o in orders)


def test_two_processes_match_one_process(tmp_path):
    """A real 2-process run (torchrun through ``accelerate launch``, gloo) against one process with the same
    global batch (8 = 2 x 4): the same (epoch, row) records, correct flags equal but for rounding."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "lib"), os.environ.get("PYTHONPATH", "")])}
    accelerate = Path(sys.executable).parent / "accelerate"
    # ``accelerate launch --cpu --num_processes 2`` starts ONE process in accelerate 1.15 unless mpirun is
    # configured (its simple launcher); ``--multi_gpu`` on a machine without CUDA is torchrun with gloo.
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", str(HERE / "trainer_ddp.py"), str(tmp_path / "two"),
           "--resume"]
    subprocess.run(cmd, check=True, env=env, cwd=HERE, capture_output=True, timeout=300)
    trainer_ddp.run(str(tmp_path / "one"), batch=8)   # one process, here
    report = {}
    for n in (40, 42):
        two, o2, s2 = load(tmp_path / "two" / f"n{n}")
        one, o1, s1 = load(tmp_path / "one" / f"n{n}")
        assert json.loads((tmp_path / "two" / f"n{n}" / "world.json").read_text()) == {"world_size": 2,
                                                                                      "backend": "gloo"}
        assert s2["world_size"] == 2 and s1["world_size"] == 1
        assert np.array_equal(two.example_id, one.example_id) and np.array_equal(two.target, one.target)
        assert np.array_equal(o2, o1)                       # the same rows in the same order, every epoch
        assert two.correct.shape == one.correct.shape == (2, n)
        flips = two.correct != one.correct
        top2 = np.sort(one.logits, axis=-1)[..., -2:]
        margin = top2[..., 1] - top2[..., 0]
        report[n] = {"flips": int(flips.sum()), "max_logit_diff": [float(np.abs(two.logits[e] - one.logits[e]).max())
                                                                    for e in range(2)],
                     "repeats": [s["repeats"] for s in s2["recording"]]}
        if n == 40:  # no padding: identical global batches, the runs differ by rounding only
            assert report[n]["max_logit_diff"][1] < 1e-4
            assert (margin[flips] < 1e-4).all()            # any flip is a near-tie
            assert [s["repeats"] for s in s2["recording"]] == [0, 0]
        else:  # 42 rows = 10 batches of 4 and one of 2: the sampler pads the last round with 6 repeated rows
            assert [s["repeats"] for s in s2["recording"]] == [6, 6]
            assert [s["records"] for s in s2["recording"]] == [48, 48]
            assert report[n]["max_logit_diff"][0] < 1e-4   # epoch 1 is the same; its padded last step is not
    # killed after step 3 and resumed from checkpoint-2: each process saved its records there; same files
    checkpoint = tmp_path / "two" / "n40-resumed" / "trainer" / "checkpoint-2" / CHECKPOINT_DIR
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epochs.npz", "rank-0.npz", "rank-1.npz", "state.json"]
    resumed, o3, s3 = load(tmp_path / "two" / "n40-resumed")
    two, o2, _ = load(tmp_path / "two" / "n40")
    assert s3["resumed_from"] == [str(checkpoint.parent)] and [s["records"] for s in s3["recording"]] == [40, 40]
    assert np.array_equal(o3, o2) and np.array_equal(resumed.correct, two.correct)
    np.testing.assert_array_equal(resumed.logits, two.logits)
    print(json.dumps(report))


# --- resuming a run ---------------------------------------------------------------------------------------------

class Interrupt(Exception):
    pass


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt(f"killed after step {self.step}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uninterrupted")
    _, out = train(tmp, "classification", tf.classification_data(40), tf.tiny_model(), PAD())
    return load(out)


@pytest.mark.parametrize("save, stop, checkpoint",  # 5 steps of 8 rows per epoch, 2 epochs
                         [(dict(save_strategy="steps", save_steps=3), 5, 3),   # a checkpoint inside epoch 1
                          (dict(save_strategy="steps", save_steps=5), 7, 5),   # at epoch 1's last step, before it ended
                          (dict(save_strategy="epoch"), 8, 5)],                # after epoch 1 ended
                         ids=["mid_epoch", "last_step_of_epoch", "epoch_end"])
def test_resume_keeps_the_checkpoints_records(tmp_path, uninterrupted, save, stop, checkpoint):
    """Killed ``stop - checkpoint`` steps after a checkpoint, resumed from it: the records of the steps in
    the checkpoint are kept, those after it are redone with the steps, and the run's files equal an
    uninterrupted run's (dropout on: the Trainer restores the RNG)."""
    data = tf.classification_data(40)
    with pytest.raises(Interrupt):
        train(tmp_path, "classification", data, tf.tiny_model(), PAD(), callbacks=[StopAt(stop)], **save)
    checkpoints = sorted((tmp_path / "run-trainer").glob("checkpoint-*"))
    last = max(checkpoints, key=lambda p: int(p.name.split("-")[1]))
    assert last.name == f"checkpoint-{checkpoint}"
    with np.load(last / CHECKPOINT_DIR / "rank-0.npz") as f:   # the current epoch's records up to the checkpoint
        assert len(f["records"]) == {3: 24, 5: 40 if save.get("save_steps") == 5 else 0}[checkpoint]
    assert (last / CHECKPOINT_DIR / "state.json").exists() and (last / CHECKPOINT_DIR / "rank-0.npz").exists()
    assert not (tmp_path / "run" / STEP_FILE).exists()
    _, out = train(tmp_path, "classification", data, tf.tiny_model(seed=99), PAD(), resume=True, **save)
    run, orders, step = load(out)
    ref, ref_orders, _ = uninterrupted
    assert step["resumed_from"] == [str(last)]
    assert [s["records"] for s in step["recording"]] == [40, 40]       # nothing twice, nothing missing
    assert np.array_equal(orders, ref_orders)
    assert np.array_equal(run.correct, ref.correct)
    np.testing.assert_array_equal(run.logits, ref.logits)
    np.testing.assert_array_equal(run.gold_prob, ref.gold_prob)


def test_resume_with_ignore_data_skip_redoes_the_epoch(tmp_path):
    """With ``ignore_data_skip`` the Trainer does not skip the interrupted epoch's trained batches: it runs
    that epoch again from its start, so its records are those of the pass it completes (redone)."""
    data = tf.classification_data(40)
    save = dict(save_strategy="steps", save_steps=3, ignore_data_skip=True)
    with pytest.raises(Interrupt):
        train(tmp_path, "classification", data, tf.tiny_model(), PAD(), callbacks=[StopAt(5)], **save)
    with pytest.warns(UserWarning) as warned:
        _, out = train(tmp_path, "classification", data, tf.tiny_model(), PAD(), resume=True, **save)
    messages = [str(w.message) for w in warned]
    assert any("ignore_data_skip" in m for m in messages)
    assert any("stopped inside epoch 2" in m for m in messages)  # global steps ran out: 3 + 5 + 2 = 10
    run, _, step = load(out)
    assert run.correct.shape == (1, 40) and step["recording"][0]["records"] == 40


def test_resume_from_a_checkpoint_without_records_fails(tmp_path):
    data = tf.classification_data(40)
    plain = Trainer(model=tf.tiny_model(), args=tf.args(tmp_path / "run-trainer", save_strategy="steps", save_steps=3),
                    train_dataset=data, data_collator=PAD(), callbacks=[StopAt(4)])
    with pytest.raises(Interrupt):
        plain.train()
    with pytest.raises(RecorderError, match="holds no recorded dynamics"):
        train(tmp_path, "classification", data, tf.tiny_model(), PAD(), resume=True, save_strategy="steps",
              save_steps=3)


# --- what cannot be recorded, and what selection reads ---------------------------------------------------------

def test_training_stopped_inside_an_epoch_keeps_the_whole_epochs(tmp_path):
    with pytest.warns(UserWarning, match="stopped inside epoch 2"):
        _, out = train(tmp_path, "classification", tf.classification_data(40), tf.tiny_model(), PAD(), max_steps=7)
    run, _, step = load(out)
    assert run.correct.shape == (1, 40) and step["dropped_epochs"] == [{"epoch": 2, "rows_seen": 16}]


def test_drop_last_is_refused(tmp_path):
    with pytest.raises(RecorderError, match="dataloader_drop_last"):
        train(tmp_path, "classification", tf.classification_data(20), tf.tiny_model(), PAD(),
              dataloader_drop_last=True)


def test_existing_trainer_subclass_with_label_smoothing(tmp_path):
    """``record_dynamics`` on a trainer built elsewhere; the Trainer's label smoother pops the labels
    inside compute_loss, after the recorder has read them."""
    class MyTrainer(Trainer):
        def create_optimizer(self, model=None):
            return super().create_optimizer(model)

    data = tf.classification_data(24)
    model = tf.tiny_model()
    cap = Capture(model)
    trainer = MyTrainer(model=model, args=tf.args(tmp_path / "t", label_smoothing_factor=0.1), train_dataset=data,
                        data_collator=PAD())
    record_dynamics(trainer, "classification", output_dir=tmp_path / "run")
    assert isinstance(trainer, MyTrainer)
    trainer.train()
    run, orders, _ = load(tmp_path / "run")
    check_against_forward(run, orders, cap, data, "classification")


def test_selection_reads_the_runs(tmp_path):
    data = tf.classification_data(32)
    dirs = []
    for seed in (1, 2):
        _, out = train(tmp_path, "classification", data, tf.tiny_model(seed=seed), PAD(), name=f"run-{seed}",
                       seed=seed)
        dirs.append(out)
    dyn = TrainingDynamics.load(dirs, seeds=(1, 2))
    assert dyn.correct.shape == (2, 2, 32) and dyn.logits.shape == (2, 2, 32, 3)
    h = h_score(dyn.correct)
    assert np.array_equal(h, dyn.correct.all(axis=1).sum(axis=0)) and h.max() <= 2
    table = scores_table(dyn)                          # what hscore's selection computes from phase 1
    assert np.array_equal(table["h"], h) and np.array_equal(table["example_id"], data["idx"])
    assert table["el2n_train_step"].notna().all() and table["variability"].notna().all()
    ticket = subset_family(2)[0]
    assert set(hscore_subset(h, ticket)) <= set(range(32))
