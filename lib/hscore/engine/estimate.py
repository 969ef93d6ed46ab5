"""How long a plan's training will take here, measured before it starts.

``estimate`` prepares the pair's data (the tokens every run trains on are then known exactly),
times a few training steps of the pair's model at the phase-1 batch size on this machine (a fresh
model, thrown away; the threads each worker will have), and scales: the scoring runs' tokens over
the measured tokens per second, shared between the workers. Phase-2 runs train on subsets whose
sizes the scoring decides, so they are bounded by a run on the full set.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..config import PairConfig
from .batches import autocast
from .device import describe_device, pick_device
from .prepared import prepare

CALIBRATION_STEPS = 3     # timed training steps (after one warm-up)
SUGGEST_ABOVE = 30 * 60   # phase 1 longer than this: suggest a train_cap
SUGGEST_TARGET = 15 * 60  # ... one that takes about this long


def duration(seconds: float) -> str:
    """``4 h 40 min``, ``12 min``, ``40 s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{max(1, round(seconds))} s"


@dataclass(frozen=True)
class Estimate:
    cfg: PairConfig
    scoring_runs: int        # scoring runs still to train
    finetune_runs: int       # phase-2 runs still to train
    rows: int                # training rows of a scoring run
    tokens: int              # tokens of one pass over the training rows
    tokens_per_second: float # measured here, per worker
    jobs: int
    device: str

    def run_seconds(self, epochs: int) -> float:
        return self.tokens * epochs / self.tokens_per_second

    @property
    def scoring_seconds(self) -> float:
        return self.scoring_runs * self.run_seconds(self.cfg.phase1.epochs) / min(self.jobs, max(self.scoring_runs, 1))

    def describe(self) -> str:
        cfg = self.cfg
        text = (f"{cfg.pair}: {self.scoring_runs} scoring run(s) x {cfg.phase1.epochs} epochs over {self.rows:,} rows "
                f"({self.tokens:,} tokens a pass); at {self.tokens_per_second:,.0f} tokens/s measured here "
                f"({self.device}, {self.jobs} worker(s)): about {duration(self.scoring_seconds)} for phase 1")
        if self.finetune_runs:
            full = self.run_seconds(cfg.phase2.epochs)
            text += (f", then {self.finetune_runs} phase-2 run(s) of at most {duration(full)} each (a subset trains "
                     "faster than the full set)")
        text += "."
        if self.scoring_seconds > SUGGEST_ABOVE:
            cap = max(100, int(self.rows * SUGGEST_TARGET / self.scoring_seconds) // 100 * 100)
            text += (f" To try it smaller first: --train-cap {cap} (a seeded sample; phase 1 about "
                     f"{duration(self.scoring_seconds * cap / self.rows)}).")
        return text


def calibrate(data, batch_size: int, threads: int, device) -> float:
    """Training tokens per second of the pair's model here: a few timed steps of a fresh model."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, _ = data.fresh_model(seed=0)
        model.to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        rng = np.random.default_rng(0)
        batches = [rng.choice(len(data.train), min(batch_size, len(data.train)), replace=False)
                   for _ in range(CALIBRATION_STEPS + 1)]
        tokens, start = 0, 0.0
        for i, positions in enumerate(batches):
            if i == 1:
                start = time.perf_counter()
            inputs, targets = data.kind.collate(data.train, positions, data.tokenizer, device)
            with autocast(device, data.cfg.precision):
                outputs = model(**inputs)
            data.kind.step(outputs, targets).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if i >= 1:
                tokens += int(data.train.take(positions).tokens())
        if device.type == "cuda":
            torch.cuda.synchronize()
        return tokens / max(time.perf_counter() - start, 1e-9)
    finally:
        torch.set_num_threads(before)


def estimate(cfg: PairConfig, steps, jobs: int = 1) -> Estimate:
    """The estimate for the trainable ``steps`` of one pair (``hscore.study.plan.Step``)."""
    device = pick_device(cfg.require_gpu)
    data = prepare(cfg)
    threads = max(1, (os.cpu_count() or 1) // jobs) if device.type == "cpu" else torch.get_num_threads()
    rate = calibrate(data, cfg.phase1.batch_size, threads, device)
    return Estimate(cfg, sum(s.stage == "score" for s in steps), sum(s.stage == "finetune" for s in steps),
                    len(data.train), int(data.train.tokens()), rate, max(1, jobs), describe_device(device))
