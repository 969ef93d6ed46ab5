"""One process against two: how far a Trainer run's recorded dynamics move when it runs distributed.

A user's own Hugging Face ``Trainer`` script with hscore's recorder (the five lines of *Score your own
Trainer run*), on the default profile's Rotten Tomatoes pair (800 training examples, MiniLM-L6, max
length 64, lr 1e-4, 3 epochs, a global batch of 8), run once per seed three ways on a CPU:

- ``one``: one process, batch 8 (``torchrun --standalone --nproc_per_node 1``), seeds A;
- ``two``: two processes with gloo, batch 4 each (``torchrun --standalone --nproc_per_node 2``), seeds A;
- ``other seeds``: one process, batch 8, seeds B.

Measured, against ``one``: the share of (run, epoch, row) correct flags that agree, the H histograms and
how many rows change H, the Spearman correlation of H and the Jaccard index of the winning tickets
(``equivalence.compare``). ``two`` against ``one`` is the cost of going distributed (the same rows in the
same order, but dropout masks drawn per process and gradients summed in another order); ``other seeds`` against
``one`` is the seed-to-seed difference the H-score averages over. Writes ``benchmarks/distributed.json``
(the figures the Trainer page quotes) and appends it to ``benchmarks/results.jsonl``. About 20 minutes on
a 2-core CPU with R = 3::

    python benchmarks/distributed.py [--runs 3] [--examples 800]
    python benchmarks/distributed.py worker OUT SEED BATCH EXAMPLES   # what torchrun starts
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS_A, SEEDS_B = (342, 4827, 1215), (98, 8128, 828)   # the default profile's six phase-1 seeds, in two halves


def worker(out: str, seed: int, batch: int, examples: int) -> None:
    """The user's script: tokenize the training set, build the model, train with the recorder."""
    import datasets
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        TrainingArguments,
    )

    from hscore import config
    from hscore.data import get_task, pair_splits
    from hscore.engine.checkpoints import OFFLINE_MINILM, resolve_checkpoint
    from hscore.engine.recorder import DynamicsRecorder, RecordingTrainer

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // int(os.environ.get("WORLD_SIZE", "1"))))
    cfg = next(c for c in config.profile_configs("default") if c.task == "rotten_tomatoes")
    split = pair_splits(get_task(cfg.task), cfg)["train"]
    train = datasets.Dataset.from_dict({"idx": split.ids.tolist()[:examples], "text": split.fields["text_a"][:examples],
                                        "label": split.labels.tolist()[:examples]})
    path = resolve_checkpoint(OFFLINE_MINILM)
    tokenizer = AutoTokenizer.from_pretrained(path)
    train = train.map(lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.max_length), batched=True)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    args = TrainingArguments(output_dir=f"{out}/trainer", per_device_train_batch_size=batch, learning_rate=1e-4,
                             num_train_epochs=3, seed=seed, use_cpu=True, report_to=[], save_strategy="no",
                             logging_strategy="no", disable_tqdm=True, average_tokens_across_devices=False)
    trainer = RecordingTrainer(model=model, args=args, train_dataset=train,
                               data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
                               dynamics=DynamicsRecorder("classification", output_dir=out))
    trainer.train()


def launch(out: Path, seed: int, processes: int, examples: int) -> float:
    """One run under torchrun (gloo on a CPU); its wall seconds."""
    if (out / "step.json").exists():
        return json.loads((out / "step.json").read_text()).get("details", {}).get("wall_seconds", float("nan"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                    __file__, "worker", str(out), str(seed), str(8 // processes), str(examples)], check=True,
                   env={**os.environ, "PYTHONPATH": f"{HERE.parent / 'lib'}:{HERE}"})
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=800)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hscore-distributed"))
    args = parser.parse_args(argv)
    sys.path[:0] = [str(HERE.parent / "lib"), str(HERE)]
    from equivalence import compare
    from hscore.dynamics import TrainingDynamics
    from hscore.engine.device import versions

    arms = {"one": (SEEDS_A, 1), "two": (SEEDS_A, 2), "other seeds": (SEEDS_B, 1)}
    correct, seconds = {}, {}
    for name, (seeds, processes) in arms.items():
        folders = [args.work / f"{name.replace(' ', '-')}-{s}" for s in seeds[:args.runs]]
        seconds[name] = [round(launch(f, s, processes, args.examples), 1) for f, s in zip(folders, seeds)]
        correct[name] = TrainingDynamics.load(folders, seeds[:args.runs]).correct
    reference = correct["one"]
    rows = {}
    for name in ("two", "other seeds"):
        rows[name] = {"flags_agree": float((correct[name] == reference).mean()),
                      "rows_changing_h": float((reference.all(axis=1).sum(0) != correct[name].all(axis=1).sum(0))
                                               .mean()),
                      **compare(reference, correct[name])}
    record = {"benchmark": "distributed", "date": time.strftime("%Y-%m-%d"), "examples": args.examples,
              "runs": args.runs, "epochs": 3, "global_batch": 8, "seeds_a": list(SEEDS_A[:args.runs]),
              "seeds_b": list(SEEDS_B[:args.runs]), "reference_histogram": compare(reference, reference)["histogram"],
              "against_one_process": rows, "wall_seconds": seconds, "versions": versions(),
              "command": "torchrun --standalone --nproc_per_node {1,2} (gloo, CPU), per-device batch 8 / 2 processes"}
    (HERE / "distributed.json").write_text(json.dumps(record, indent=2) + "\n")
    with open(HERE / "results.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    for name, row in rows.items():
        print(f"{name:>12}: flags agree {row['flags_agree']:.3f}, rows changing H {row['rows_changing_h']:.3f}, "
              f"Spearman {row['spearman_h']:.3f}, ticket Jaccard {row['ticket_jaccard']:.3f}")
    return record


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
