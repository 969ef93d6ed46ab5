"""Is a difference larger than noise? A paired bootstrap over phase-2 seeds and evaluation examples.

Two sources of noise separate a score from the one the method would get "in general": which seeds
trained the models (initialisation of the head, data order, dropout) and which examples happened
to be in the evaluation set. With the 3 seeds of the offline profiles a paired t-test over seeds
has 2 degrees of freedom (its 95% critical value is 4.3 standard errors) and says nothing about
the evaluation set, while a bootstrap over examples alone ignores the seeds. So every comparison
here resamples both, and keeps both pairings:

- each draw picks S seeds with replacement from the S seeds; when the two methods were trained
  with the same seeds (phase 2: same seed, same data order) the same draw is used for both,
  otherwise (the phase-1 runs, other seeds) each method draws its own;
- each draw picks n evaluation examples with replacement, the same for both methods;
- the draw's difference is the metric of method A minus the metric of method B, each averaged
  over its drawn seeds, on the drawn examples.

The 95% interval is the 2.5 and 97.5 percentiles of 2,000 draws (percentile bootstrap); the
two-sided p-value is twice the share of draws on the far side of zero. A difference is called
larger than noise when its interval excludes zero. With one seed only the examples are resampled,
and the table says so. Metrics that are a mean over examples (accuracy, QA F1 and exact match)
are resampled from per-example points; others (macro F1) are recomputed from the resampled
predictions. This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import METRICS

DRAWS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Comparison:
    """A minus B: the observed difference, its bootstrap interval and what it means."""

    a: float                 # metric of A, mean over its seeds
    b: float
    diff: float              # a - b
    low: float               # 95% interval of the difference
    high: float
    p: float                 # two-sided bootstrap p-value
    seeds: int               # seeds per method (the smaller)
    examples: int
    paired_seeds: bool

    @property
    def verdict(self) -> str:
        """``higher``, ``lower`` (the interval excludes zero) or ``within noise``."""
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return "within noise"

    @property
    def resampled(self) -> str:
        return "seeds and examples" if self.seeds > 1 else "examples (one seed)"


def example_points(frame: pd.DataFrame, metric: str) -> np.ndarray | None:
    """Per-example values whose mean is ``metric`` (in %), or None when the metric is not such a mean."""
    if metric in frame.columns:
        return frame[metric].to_numpy(np.float64)
    if metric == "accuracy" and {"prediction", "label"} <= set(frame.columns):
        return 100.0 * (frame["prediction"].to_numpy() == frame["label"].to_numpy())
    return None


def _matrix(frame: pd.DataFrame, values: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """[seeds, examples] of ``values``, seeds in sorted order, examples in the order of ``examples``."""
    table = pd.DataFrame({"seed": frame["seed"].to_numpy(), "example_id": frame["example_id"].to_numpy(),
                          "v": values}).pivot(index="seed", columns="example_id", values="v")
    return table.reindex(columns=examples).to_numpy(np.float64)


def _seed_weights(rng: np.random.Generator, draws: int, seeds: int) -> np.ndarray:
    return rng.multinomial(seeds, np.full(seeds, 1.0 / seeds), size=draws) / seeds


def compare(a: pd.DataFrame, b: pd.DataFrame, metric: str, draws: int = DRAWS, seed: int = 0) -> Comparison:
    """Compare two methods' per-example predictions on one evaluation split (rows of
    ``hscore.study.results.PairResults.predictions``, of one method each: ``seed``, ``example_id`` and
    the kind's per-example columns)."""
    examples = np.intersect1d(a["example_id"].unique(), b["example_id"].unique())
    if len(examples) == 0:
        raise ValueError("the two methods share no evaluation example")
    if a.duplicated(["seed", "example_id"]).any() or b.duplicated(["seed", "example_id"]).any():
        raise ValueError("one prediction per seed and example expected")
    seeds_a, seeds_b = np.sort(a["seed"].unique()), np.sort(b["seed"].unique())
    paired = np.array_equal(seeds_a, seeds_b)
    rng = np.random.default_rng(seed)
    pa, pb = example_points(a, metric), example_points(b, metric)
    if pa is not None and pb is not None:
        A, B = _matrix(a, pa, examples), _matrix(b, pb, examples)
        if np.isnan(A).any() or np.isnan(B).any():
            raise ValueError("every seed must have a prediction for every shared example")
        observed_a, observed_b = A.mean(), B.mean()
        diffs = np.empty(draws)
        for start in range(0, draws, 250):  # blocks keep [draws, examples] small on large evaluation sets
            d = min(250, draws - start)
            ex = rng.multinomial(len(examples), np.full(len(examples), 1.0 / len(examples)), size=d) / len(examples)
            wa = _seed_weights(rng, d, len(seeds_a))
            wb = wa if paired else _seed_weights(rng, d, len(seeds_b))
            diffs[start:start + d] = np.einsum("ds,se,de->d", wa, A, ex) - np.einsum("ds,se,de->d", wb, B, ex)
    else:
        score = METRICS[metric]
        grids = [{s: part.set_index("example_id").reindex(examples) for s, part in m.groupby("seed")} for m in (a, b)]
        value = lambda grid, seeds, ex: float(np.mean([score(grid[s]["prediction"].to_numpy()[ex],
                                                             grid[s]["label"].to_numpy()[ex]) for s in seeds]))
        everything = np.arange(len(examples))
        observed_a, observed_b = value(grids[0], seeds_a, everything), value(grids[1], seeds_b, everything)
        diffs = np.empty(draws)
        for d in range(draws):
            ex = rng.integers(0, len(examples), len(examples))
            sa = rng.choice(seeds_a, len(seeds_a))
            sb = sa if paired else rng.choice(seeds_b, len(seeds_b))
            diffs[d] = value(grids[0], sa, ex) - value(grids[1], sb, ex)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    p = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return Comparison(float(observed_a), float(observed_b), float(observed_a - observed_b), float(low), float(high),
                      float(p), int(min(len(seeds_a), len(seeds_b))), int(len(examples)), bool(paired))
