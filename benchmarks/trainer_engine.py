"""The study's loop against ``engine: trainer``, side by side: a pair's scoring (phase 1) through both.

For every phase-1 seed of the pair (``--runs`` of them), the same scoring run twice, alternating which
goes first: ``hscore.engine.train.fine_tune`` (the built-in loop, as ``engine: loop`` runs it) and
``hscore.engine.trainer_route.fine_tune_trainer`` (the Hugging Face Trainer with hscore's recorder, as
``engine: trainer`` runs it), each on a fresh model initialised with the seed, on the same tokenized rows
in the same fixed order, padding-free when the pair says so. Measured: the training examples/s of each
(rows x epochs / seconds of ``fine_tune``, evaluation left out), and how the H-scores of the two agree:
the share of (run, epoch, row) correct flags that are identical, the H histograms and half their L1
distance as a share of the rows, the Spearman correlation of H and the Jaccard index of the winning
tickets (``equivalence.compare``). The routes keep the same order, seeds, optimiser, schedule, clipping
and loss, so on one machine the flags are expected to be identical, dropout included.

Writes ``benchmarks/trainer/<profile>--<model>--<task>.json`` (settings, speeds, agreement) and ``.npz``
(``example_id``, ``label``, ``correct_loop`` and ``correct_trainer`` [R, E, N], ``h_loop``, ``h_trainer``),
which the book's page *Score your own Trainer run* reads, and appends the JSON record to
``benchmarks/results.jsonl``. The default profile's Rotten Tomatoes scoring (6 runs x 3 epochs x 800
examples, twice: 12 runs of about 45 s) takes 10 to 15 minutes on a 2-core CPU; ``--examples 320``
about 6::

    python benchmarks/trainer_engine.py [--profile default] [--pair minilm/rotten_tomatoes] [--examples N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hscore import config, paths
from hscore.engine.device import describe_device, pick_device, versions
from hscore.engine.prepared import prepare
from hscore.engine.train import Timer, fine_tune, training_order
from hscore.engine.trainer_route import fine_tune_trainer
from hscore.files import atomic_save_npz, atomic_write_json
from hscore.pruning.scores import h_score

sys.path.insert(0, str(Path(__file__).parent))
from equivalence import compare  # noqa: E402  (the comparison of two scorings, one definition)

ENGINES = {"loop": fine_tune, "trainer": fine_tune_trainer}
OUT = paths.TRAINER_BENCHMARKS   # benchmarks/trainer/


def speed_summary(seconds: dict[str, list[float]], rows: int) -> dict:
    """Examples/s of each engine: the median run and the fastest run (the least disturbed by other jobs on a
    shared machine), and the trainer's against the loop's: of the medians, of the fastest, and the median
    of the per-seed ratios (the two runs of a seed ran back to back)."""
    median = {k: rows / statistics.median(s) for k, s in seconds.items()}
    best = {k: rows / min(s) for k, s in seconds.items()}
    paired = statistics.median(lo / tr for lo, tr in zip(seconds["loop"], seconds["trainer"]))
    return {"examples_per_second": {k: round(v, 2) for k, v in median.items()},
            "examples_per_second_best": {k: round(v, 2) for k, v in best.items()},
            "trainer_vs_loop": round(median["trainer"] / median["loop"], 4),
            "trainer_vs_loop_best": round(best["trainer"] / best["loop"], 4),
            "trainer_vs_loop_paired": round(paired, 4)}


def record_name(cfg) -> str:
    return f"{cfg.profile}--{cfg.model}--{cfg.task}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--pair", default=None, help="MODEL/TASK (default: the profile's first pair)")
    parser.add_argument("--examples", type=int, default=None, help="training examples (default: the pair's train_cap)")
    parser.add_argument("--runs", type=int, default=None, help="scoring runs, the first R phase-1 seeds (default: all)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the records go (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.jsonl"),
                        help="the JSON-lines file the record is appended to")
    args = parser.parse_args(argv)
    model_id, task = config.parse_pair(args.pair) if args.pair else config.pairs(args.profile)[0]
    cfg = config.pair_config(args.profile, model_id, task)
    profile_cap = cfg.train_cap
    cfg = replace(cfg, train_cap=args.examples or cfg.train_cap, require_gpu=False)
    seeds = list(cfg.phase1.seeds[:args.runs] if args.runs else cfg.phase1.seeds)
    if len(seeds) < 2:
        parser.error("an H-score needs at least 2 runs")
    data = prepare(cfg)
    device = pick_device()
    n, epochs = len(data.train), cfg.phase1.epochs
    seconds = {name: [] for name in ENGINES}
    correct = {name: [] for name in ENGINES}
    prob = {name: [] for name in ENGINES}
    for r, seed in enumerate(seeds):
        order = training_order(n, seed)
        for name in (("loop", "trainer") if r % 2 == 0 else ("trainer", "loop")):
            model, _ = data.fresh_model(seed)
            with Timer() as timer:
                dyn = ENGINES[name](model, data.kind, data.tokenizer, data.train, cfg.phase1, seed=seed, order=order,
                                    device=device, precision=cfg.precision, num_logits=data.num_logits,
                                    desc=f"{name} seed {seed}")
            seconds[name].append(timer.seconds)
            correct[name].append(dyn.correct)
            prob[name].append(dyn.gold_prob)
            print(f"run {r + 1}/{len(seeds)} seed {seed} {name}: {n * epochs / timer.seconds:.1f} examples/s",
                  flush=True)
            del model
    flags = {name: np.stack(c) for name, c in correct.items()}
    probs = {name: np.stack(p) for name, p in prob.items()}
    speeds = speed_summary(seconds, n * epochs)
    rates = speeds["examples_per_second"]
    agreement = compare(flags["loop"], flags["trainer"])
    agreement.update({
        "reference_histogram": compare(flags["loop"], flags["loop"])["histogram"],
        "identical_flags": int((flags["loop"] == flags["trainer"]).sum()), "flags": int(flags["loop"].size),
        "max_gold_prob_difference": float(np.abs(probs["loop"] - probs["trainer"]).max()),
        "bit_identical": bool(np.array_equal(flags["loop"], flags["trainer"])
                              and np.array_equal(probs["loop"], probs["trainer"]))})
    record = {"benchmark": "trainer_engine", "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "profile": cfg.profile,
              "pair": cfg.pair, "checkpoint": cfg.checkpoint, "examples": n, "profile_train_cap": profile_cap,
              "profile_runs": cfg.runs, "runs": len(seeds), "epochs": epochs,
              "seeds": seeds, "batch_size": cfg.phase1.batch_size, "lr": cfg.phase1.lr, "max_length": cfg.max_length,
              "padding_free": cfg.padding_free, "precision": cfg.precision,
              "device": describe_device(device), "threads": torch.get_num_threads(),
              "seconds": seconds, **speeds, "agreement": agreement,
              "versions": versions()}
    args.out.mkdir(parents=True, exist_ok=True)
    name = record_name(cfg)
    atomic_write_json(args.out / f"{name}.json", record)
    atomic_save_npz(args.out / f"{name}.npz", example_id=data.train.example_id, label=data.train.labels,
                    correct_loop=flags["loop"], correct_trainer=flags["trainer"],
                    h_loop=h_score(flags["loop"]), h_trainer=h_score(flags["trainer"]))
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")
    print(f"examples/s (median run): loop {rates['loop']:.1f}, trainer {rates['trainer']:.1f} (trainer / loop "
          f"{record['trainer_vs_loop']:.3f}; fastest runs {record['trainer_vs_loop_best']:.3f}; per seed "
          f"{record['trainer_vs_loop_paired']:.3f}); identical correct flags "
          f"{agreement['identical_flags']} of {agreement['flags']}; H histogram distance "
          f"{agreement['histogram_distance']:.3f}, Spearman {agreement['spearman_h']:.3f}, ticket Jaccard "
          f"{agreement['ticket_jaccard']:.3f}; records in {args.out / name}.json/.npz")
    return record


if __name__ == "__main__":
    main()
