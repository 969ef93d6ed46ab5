"""Does the padding-free engine score examples as the padded loop does? H-scores side by side.

A padding-free model predicts what the padded one predicts, but in training its dropout draws
masks for the real tokens only, so its runs are other random runs, not the same ones. This script
trains three sets of R scoring runs of a pair with its phase-1 settings on the same rows:

- ``padded``: the reference, seeds A (the profile's first R phase-1 seeds);
- ``padding-free``: the same seeds A (same head initialisation, same order), padding-free;
- ``padded, other seeds``: seeds B = A + 1000, padded: how far two reference scorings are apart.

and compares each with the reference: the H histogram (half the L1 distance between the two
histograms, as a share of the examples: the share that would have to move to another H), the
Spearman correlation of the examples' H, and the Jaccard index of the winning tickets.
Padding-free passes when it is no further from the reference than the other seeds are.
Appends a JSON record to ``benchmarks/results.jsonl``; figures in ``benchmarks/README.md``.

    python benchmarks/equivalence.py [--profile default] [--pair minilm/rotten_tomatoes] [--examples 320] [--runs 4]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hscore import config
from hscore.engine.device import describe_device, pick_device, versions
from hscore.engine.prepared import prepare
from hscore.engine.train import fine_tune, training_order
from hscore.pruning.cheaper import jaccard, spearman, ticket
from hscore.pruning.scores import h_histogram, h_score


def scoring(cfg, data, seeds, unpadded: bool) -> np.ndarray:
    """Correctness flags [R, E, N] of R scoring runs, one per seed."""
    device = pick_device()
    flags = []
    for seed in seeds:
        model, got = data.fresh_model(seed, unpadded)
        assert got == unpadded, f"{cfg.checkpoint} cannot run padding-free"
        dyn = fine_tune(model, data.kind, data.tokenizer, data.train, cfg.phase1, seed=seed,
                        order=training_order(len(data.train), seed), device=device, precision=cfg.precision,
                        num_logits=data.num_logits, desc=f"{'padding-free' if unpadded else 'padded'} seed {seed}")
        flags.append(dyn.correct)
    return np.stack(flags)


def compare(reference: np.ndarray, other: np.ndarray) -> dict:
    """How far the H-scores of ``other`` [R, E, N] are from those of ``reference``."""
    runs = reference.shape[0]
    h_ref, h = h_score(reference), h_score(other)
    hist_ref, hist = h_histogram(h_ref, runs).to_numpy(), h_histogram(h, runs).to_numpy()
    return {"histogram": hist.tolist(), "histogram_distance": float(np.abs(hist - hist_ref).sum() / 2 / len(h)),
            "spearman_h": spearman(h_ref, h), "ticket_size": int(len(ticket(h, runs))),
            "ticket_jaccard": jaccard(ticket(h_ref, runs), ticket(h, runs))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--pair", default=None, help="MODEL/TASK (default: the profile's first pair)")
    parser.add_argument("--examples", type=int, default=320)
    parser.add_argument("--runs", type=int, default=4, help="R scoring runs per set")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.jsonl"),
                        help="the JSON-lines file the record is appended to")
    args = parser.parse_args(argv)
    model_id, task = config.parse_pair(args.pair) if args.pair else config.pairs(args.profile)[0]
    cfg = replace(config.pair_config(args.profile, model_id, task), train_cap=args.examples, require_gpu=False)
    data = prepare(cfg)
    seeds_a = list(cfg.phase1.seeds[:args.runs])
    if len(seeds_a) < args.runs:
        parser.error(f"the profile has {len(seeds_a)} phase-1 seeds")
    seeds_b = [s + 1000 for s in seeds_a]
    reference = scoring(cfg, data, seeds_a, unpadded=False)
    sets = {"padding-free": scoring(cfg, data, seeds_a, unpadded=True),
            "padded, other seeds": scoring(cfg, data, seeds_b, unpadded=False)}
    rows = {"padded": compare(reference, reference), **{name: compare(reference, c) for name, c in sets.items()}}
    print(f"{'':>20} | H histogram (H = 0..{args.runs}) | moved | Spearman | ticket | Jaccard")
    for name, r in rows.items():
        print(f"{name:>20} | {r['histogram']} | {r['histogram_distance']:.3f} | {r['spearman_h']:.3f} | "
              f"{r['ticket_size']} | {r['ticket_jaccard']:.3f}")
    record = {"benchmark": "equivalence", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "pair": f"{cfg.model}/{cfg.task}", "examples": len(data.train), "runs": args.runs,
              "epochs": cfg.phase1.epochs, "seeds": {"A": seeds_a, "B": seeds_b}, "comparisons": rows,
              "device": describe_device(pick_device()), "versions": versions()}
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
