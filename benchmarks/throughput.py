"""Fine-tuning and evaluation throughput of the study's training loop on this machine.

Measures, for a pair of a profile (default: the first pair of ``default``), the examples per second
of ``hscore.engine.train.fine_tune`` (recording dynamics, as phase 1 does) and of the task kind's
evaluation, on the pair's real tokenized data (rows: QA windows, multiple-choice questions), on the
GPU when there is one, padding-free when the profile says so (``padding_free``); also training
tokens/s (the tokens the model processed: padded, or the real ones when padding-free) and the model
FLOP utilisation: ``6 x non-embedding parameters x tokens`` per second (the usual estimate; it
leaves out attention scores and the embedding update) against this device's own matmul rate,
measured here on square matmuls in the training precision. Prints a JSON record and appends it
to ``benchmarks/results.jsonl``; ``benchmarks/README.md`` keeps the figures measured so far.

    python benchmarks/throughput.py [--profile default] [--pair minilm/rotten_tomatoes] [--examples 320]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from hscore import config
from hscore.engine.device import describe_device, pick_device, versions
from hscore.engine.models import non_embedding_parameters
from hscore.engine.prepared import prepare
from hscore.engine.train import fine_tune, training_order


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int | None = None, repeat: int = 10) -> float:
    """FLOP/s of this device on n x n matmuls (the ceiling model FLOP utilisation is measured against)."""
    n = n or (8192 if device.type == "cuda" else 2048)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(2):
        a @ b
    sync()
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    sync()
    return 2 * n ** 3 * repeat / (time.perf_counter() - start)


def padded_tokens(lengths, order, batch_size: int) -> int:
    """Tokens the model processes in one epoch: each batch padded to its longest row."""
    batches = (order[i:i + batch_size] for i in range(0, len(order), batch_size))
    return int(sum(len(b) * lengths[b].max() for b in batches))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--pair", default=None, help="MODEL/TASK (default: the profile's first pair)")
    parser.add_argument("--examples", type=int, default=320, help="training examples timed (one epoch)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the profile's phase-1 batch size")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default=None,
                        help="on a GPU (default: the profile's; the CPU always trains in fp32)")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.jsonl"),
                        help="the JSON-lines file the record is appended to")
    args = parser.parse_args(argv)

    model_id, task = args.pair.split("/") if args.pair else config.pairs(args.profile)[0]
    cfg = config.pair_config(args.profile, model_id, task)
    cfg = replace(cfg, train_cap=args.examples, require_gpu=False, precision=args.precision or cfg.precision)
    batch_size = args.batch_size or cfg.phase1.batch_size
    data = prepare(cfg)
    device = pick_device()
    model, unpadded = data.fresh_model(0)
    hp = replace(cfg.phase1, epochs=1, batch_size=batch_size)

    def epoch(rows, seed, desc):
        fine_tune(model, data.kind, data.tokenizer, rows, hp, seed=seed, order=training_order(len(rows), seed),
                  device=device, precision=cfg.precision, num_logits=data.num_logits, desc=desc)

    # Warm-up (allocator, kernels), then one timed epoch.
    epoch(data.train.take(range(2 * batch_size)), 0, "warm-up")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    epoch(data.train, 1, "timed epoch")
    sync()
    train_seconds = time.perf_counter() - start
    split = data.task.eval_splits[0]
    evals = data.evals[split]
    start = time.perf_counter()
    data.kind.evaluate(model, data.tokenizer, evals, data.splits[split], device, cfg.precision, data.head,
                       data.task.metric, **data.task.eval_options)
    sync()
    eval_seconds = time.perf_counter() - start

    non_embedding = non_embedding_parameters(model)
    first = data.train.input_ids[0]
    options = len(first) if first and isinstance(first[0], list) else 1  # multiple-choice rows: every option
    tokens = options * (int(data.train.lengths().sum()) if unpadded else
                        padded_tokens(data.train.lengths(), training_order(len(data.train), 1), batch_size))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.precision, torch.float32) \
        if device.type == "cuda" else torch.float32
    peak = matmul_peak(device, dtype)
    record = {
        "date": time.strftime("%Y-%m-%d"), "profile": args.profile, "pair": f"{model_id}/{task}",
        "checkpoint": cfg.checkpoint, "device": describe_device(device),
        "precision": cfg.precision if device.type == "cuda" else "fp32",
        "max_length": cfg.max_length, "batch_size": batch_size, "padding_free": unpadded,
        "mean_tokens": round(float(data.train.lengths().mean()), 1),
        "train_examples_per_s": round(len(data.train) / train_seconds, 1),   # rows per second
        "eval_examples_per_s": round(len(evals) / eval_seconds, 1),
        "train_tokens_per_s": round(tokens / train_seconds, 1),
        "non_embedding_parameters": non_embedding,
        "matmul_peak_tflops": round(peak / 1e12, 3),
        "model_flop_utilisation": round(6 * non_embedding * tokens / train_seconds / peak, 4),
        "versions": versions(),
    }
    print(json.dumps(record, indent=2))
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
