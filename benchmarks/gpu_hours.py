"""Expected GPU-hours of the paper profile, per pair, from its plan: an estimate, not a measurement.

Counts come from the plan (``hscore.study.plan``): R scoring runs on the full training set, then one
phase-2 run on the full set and one per (subset, method) per seed. The subsets' sizes are only known
after scoring; the largest is the winning ticket, whose size the paper reports
(``paper_results.csv``), and every other subset is smaller. So phase 2 costs between
``1 + (1 + B) * t`` and ``1 + S * (1 + B) * t`` full-set runs (t = ticket fraction, S subsets,
B baselines). One full-set run costs ``6 * parameters * tokens * rows * epochs`` FLOPs (forward and
backward; the official code pads every row to max length), turned into hours at an assumed sustained
throughput (``--tflops``, default 150: about 50% of an A100's dense fp16 peak, 15% of an H100's).
Divide by your GPU's measured rate, or better: time one scoring run and multiply by the
full-run equivalents printed here. Training rows per task are the public splits' sizes (SQuAD v2:
windows of 384 tokens, stride 128; RACE: 4 option rows of 512 tokens per question).

    python benchmarks/gpu_hours.py [--tflops 150]
"""

from __future__ import annotations

import argparse

from hscore.analysis.tables import paper_results
from hscore.pruning.subsets import subset_family
from hscore.study import plan

PARAMETERS = {"roberta-large": 355e6, "opt-350m": 331e6}
TRAIN_ROWS = {"mnli": 392_702, "sst2": 67_349, "snli": 549_367, "squad_v2": 132_000, "race": 87_866}
ROWS_PER_EXAMPLE = {"race": 4}  # a RACE question is 4 option rows (RoBERTa's MC head reads all 4 at once)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tflops", type=float, default=150.0, help="sustained training TFLOP/s assumed")
    args = parser.parse_args(argv)
    ticket = paper_results().groupby("task")["ticket_pct"].first() / 100
    built = plan.build("paper", check_writable=False)
    print(f"| pair | runs (scoring + phase 2) | one full-set run, h | full-run equivalents | GPU-hours at "
          f"{args.tflops:g} TFLOP/s |\n|---|---|---|---|---|")
    total = [0.0, 0.0]
    for cfg in built.configs:
        steps = built.of_pair(cfg)
        runs = sum(s.stage == "score" for s in steps), sum(s.stage == "finetune" for s in steps)
        rows = TRAIN_ROWS[cfg.task] * ROWS_PER_EXAMPLE.get(cfg.task, 1)
        flops = 6 * PARAMETERS[cfg.model] * cfg.max_length * rows * cfg.phase1.epochs
        hours = flops / (args.tflops * 1e12) / 3600
        t, per_seed = ticket.get(cfg.task, 1 / 3), 1 + len(cfg.baselines)
        seeds = len(cfg.phase2.seeds)
        low = cfg.runs + seeds * (1 + per_seed * t)
        high = cfg.runs + seeds * (1 + len(subset_family(cfg.runs)) * per_seed * t)
        total[0] += low * hours
        total[1] += high * hours
        print(f"| {cfg.model} / {cfg.task} | {runs[0]} + {runs[1]} | {hours:.2f} | {low:.1f}-{high:.1f} | "
              f"{low * hours:.0f}-{high * hours:.0f} |")
    print(f"| **all 10 pairs** | | | | **{total[0]:.0f}-{total[1]:.0f}** |")


if __name__ == "__main__":
    main()
