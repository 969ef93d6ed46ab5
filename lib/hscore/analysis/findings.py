"""The answer first: what a profile's results say, computed from them, never typed.

- ``pair_findings(pair)``: per model-task pair, on its headline evaluation split, the winning
  ticket's size (and how many times smaller than the full set it is), its score against full data
  (phase-2 settings, the same seeds) and against each baseline of its size, each with the paired
  bootstrap interval and verdict of ``hscore.analysis.stats``, the majority-class score, the
  reproduction's verdict on the paper's claim for that pair, and notes where the data are striking
  (a pair at its ceiling, a subset that trains a constant classifier, a baseline far below random
  and the corner of the data map it keeps);
- ``claims(findings)``: the claims table a reproducibility report opens with: claim, paper, ours,
  verdict;
- ``limits(profile)``: the profile's scale against the paper's (model, training examples, batch
  and learning rate, seeds, runs and epochs).

The paper's claim (abstract): the winning ticket is on average 3x smaller than the full training set
and scores +0.1 points on average. Per pair the size claim is the paper's reported ticket size where
the pair is the paper's (RoBERTa-large), else a third of the training set; it holds when our ticket
is at most 1.25 times that fraction. The score claim (no loss) holds when the ticket is higher than
full data beyond noise, or within noise with the interval's low end above -1 point; it fails when
the ticket is lower beyond noise; an interval that reaches below -1 point while holding zero is
inconclusive at this scale. This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import PairConfig, profile_configs
from ..errors import HScoreError
from ..pruning.subsets import subset_family
from ..study.results import PairResults
from .stats import Comparison, compare
from .tables import METHOD_LABELS, headline_metric, paper_results

PAPER_TIMES_SMALLER = 3.0       # "on average 3x smaller"
PAPER_SCORE_GAIN = 0.1          # "+0.1% average evaluation score"
PAPER_MODEL = "roberta-large"
PAPER_SETTINGS = {"batch_size": 32, "lr": 2e-5, "runs": 6, "epochs": 3, "phase2_seeds": 1}
SIZE_TOLERANCE = 1.25           # our ticket may be this many times the paper's fraction
LOSS_MARGIN = 1.0               # points: an interval reaching below -this is too wide to call "no loss"
CEILING = 90.0                  # a pair whose methods all score within noise above this is at its ceiling
FAR_BELOW = 5.0                 # points below random, beyond noise, that earn a baseline a sentence
# (a data map's sides: a subset's mean confidence 0.05 or its mean variability 0.02 away from the set's)


@dataclass
class PairFinding:
    """What one pair's results say on its headline split."""

    pair: str
    split: str
    metric: str
    train: int
    ticket: int
    vs_full: Comparison | None
    vs_baselines: dict[str, Comparison]
    majority: float | None
    paper_fraction: float          # the size the paper reports (or claims on average), as a fraction
    paper_gain: float | None       # the paper's ticket - full for this pair, where reported
    notes: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.ticket / self.train

    @property
    def times_smaller(self) -> float:
        return self.train / self.ticket

    @property
    def size_verdict(self) -> str:
        return "reproduced" if self.fraction <= SIZE_TOLERANCE * self.paper_fraction else "not reproduced"

    @property
    def score_verdict(self) -> str:
        c = self.vs_full
        if c is None:
            return "not measured"
        if c.verdict == "lower":
            return "not reproduced"
        if c.verdict == "higher" or c.low >= -LOSS_MARGIN:
            return "reproduced"
        return "inconclusive"

    @property
    def verdict(self) -> str:
        """The pair's verdict on the paper's claim, with its reason."""
        size = (f"the ticket is {100 * self.fraction:.0f}% of the training set ({self.times_smaller:.1f}x smaller; "
                f"the paper: {100 * self.paper_fraction:.0f}%)")
        c = self.vs_full
        score = "" if c is None else (f"ticket - full {c.diff:+.1f} points (95% CI {c.low:+.1f} to {c.high:+.1f})")
        if self.score_verdict == "not reproduced":
            return f"not reproduced: the ticket scores below full data beyond noise, {score}"
        if self.size_verdict == "not reproduced":
            return f"not reproduced at this scale: {size}; {score or 'no phase-2 score'}"
        if self.score_verdict == "inconclusive":
            return (f"inconclusive at this scale: {size}, but the interval of {score} cannot tell no loss from a "
                    f"loss of more than {LOSS_MARGIN:g} point")
        if self.score_verdict == "not measured":
            return f"size only: {size}; no phase-2 score yet"
        return f"reproduced: {size}, {score}"


def _headline_split(cfg: PairConfig, preds: pd.DataFrame) -> str | None:
    """The paper's split where the pair is the paper's, else the task's first evaluation split."""
    splits = list(dict.fromkeys(preds["split"])) if not preds.empty else []
    paper = paper_results()
    reported = paper[(paper["model"] == cfg.model) & (paper["task"] == cfg.task)]["split"].tolist()
    for split in reported + splits:
        if split in splits:
            return split
    return None


def _runs(preds: pd.DataFrame, method: str, subset: str) -> pd.DataFrame | None:
    part = preds[(preds["method"] == method) & (preds["subset"] == subset)]
    return part if len(part) else None


def majority_scores(pairs: list[PairResults]) -> dict:
    """The majority-class (or null-answer) score of every pair and split in its headline metric:
    (model, task, split) -> score, from what the scoring runs recorded; pairs without a scoring run are left out."""
    out = {}
    for pair in pairs:
        try:
            trivial = pair.phase1_info().get("trivial", {})
        except HScoreError:
            continue
        metric = headline_metric(pair.cfg)
        out.update({(pair.cfg.model, pair.cfg.task, split): scores[metric] for split, scores in trivial.items()
                    if metric in scores})
    return out


def constant_subsets(preds: pd.DataFrame, cfg: PairConfig) -> list[str]:
    """H-score subsets whose every trained model predicts one class for every evaluation example
    (classification: a constant classifier)."""
    if "prediction" not in preds.columns:
        return []
    out = []
    for spec in subset_family(cfg.runs):
        part = _runs(preds, "hscore", spec.name)
        if part is not None and all(g["prediction"].nunique() == 1 for _, g in part.groupby("seed")):
            out.append(spec.label)
    return out


def data_map_corner(scores: pd.DataFrame, positions: np.ndarray) -> str:
    """Where a subset sits on the data map (confidence against variability), against the whole set."""
    conf, var = scores["confidence"].to_numpy(), scores["variability"].to_numpy()
    kept_conf, kept_var = conf[positions].mean(), var[positions].mean()
    sides = [("low-confidence" if kept_conf < conf.mean() else "high-confidence")
             if abs(kept_conf - conf.mean()) >= 0.05 else None,
             ("high-variability" if kept_var > var.mean() else "low-variability")
             if abs(kept_var - var.mean()) >= 0.02 else None]
    sides = [side for side in sides if side]
    where = (f"the {', '.join(sides)} part of the data map" if sides else
             "examples placed like the whole set on the data map")
    return (f"{where} (mean confidence {kept_conf:.2f} against {conf.mean():.2f} for the whole training set, "
            f"variability {kept_var:.2f} against {var.mean():.2f})")


def pair_findings(pair: PairResults) -> PairFinding | None:
    """The findings of one pair, or None before its winning ticket and full data were trained."""
    cfg = pair.cfg
    preds = pair.predictions()
    split = _headline_split(cfg, preds)
    results = pair.phase2()
    if split is None or results.empty:
        return None
    preds = preds[preds["split"] == split]
    metric = headline_metric(cfg)
    ticket = subset_family(cfg.runs)[0].name
    sizes = results.drop_duplicates(["method", "subset"]).set_index(["method", "subset"])["size"]
    if ("hscore", ticket) not in sizes.index or ("full", "full") not in sizes.index:
        return None
    ours = _runs(preds, "hscore", ticket)
    full = _runs(preds, "full", "full")
    vs_full = compare(ours, full, metric) if ours is not None and full is not None else None
    vs_baselines = {}
    for name in cfg.baselines:
        theirs = _runs(preds, name, ticket)
        if ours is not None and theirs is not None:
            vs_baselines[name] = compare(ours, theirs, metric)
    paper = paper_results()
    reported = paper[(paper["model"] == cfg.model) & (paper["task"] == cfg.task) & (paper["split"] == split)]
    finding = PairFinding(
        pair=f"{cfg.model} / {cfg.task}", split=split, metric=metric, train=int(sizes[("full", "full")]),
        ticket=int(sizes[("hscore", ticket)]), vs_full=vs_full, vs_baselines=vs_baselines,
        majority=majority_scores([pair]).get((cfg.model, cfg.task, split)),
        paper_fraction=float(reported["ticket_pct"].iloc[0]) / 100 if len(reported) else 1 / PAPER_TIMES_SMALLER,
        paper_gain=float(reported["ticket_score"].iloc[0] - reported["full_score"].iloc[0]) if len(reported) else None)
    finding.notes = _notes(pair, finding, preds)
    return finding


def _notes(pair: PairResults, f: PairFinding, preds: pd.DataFrame) -> list[str]:
    """Sentences where the data are striking: a ceiling, a constant classifier, a baseline far below random."""
    cfg, notes = pair.cfg, []
    comparisons = [c for c in (f.vs_full, *f.vs_baselines.values()) if c is not None]
    if comparisons and all(c.verdict == "within noise" for c in comparisons):
        scores = [comparisons[0].a, *(c.b for c in comparisons)]
        low, high = min(scores), max(scores)
        if low >= CEILING:
            notes.append(f"{f.pair} is at its ceiling: full data, the ticket and every baseline score "
                         f"{low:.1f}-{high:.1f}, all within noise of one another, so the pair cannot separate them.")
    constant = constant_subsets(preds, cfg)
    if constant:
        majority = f"; the majority class scores {f.majority:.1f}" if f.majority is not None else ""
        notes.append(f"On {f.pair}, the H-score subset{'s' if len(constant) > 1 else ''} {', '.join(constant)} "
                     f"train{'' if len(constant) > 1 else 's'} a constant classifier: with every seed the model "
                     f"predicts one class for every evaluation example{majority}.")
    random = _runs(preds, "random", subset_family(cfg.runs)[0].name)
    if random is not None:
        ticket = subset_family(cfg.runs)[0].name
        for name in f.vs_baselines:
            theirs = _runs(preds, name, ticket)
            if name == "random" or theirs is None:
                continue
            c = compare(theirs, random, f.metric)
            if c.verdict != "lower" or c.diff > -FAR_BELOW:
                continue
            positions = pair.subsets().positions(name, ticket, cfg.phase2.seeds[0])
            notes.append(f"On {f.pair}, {METHOD_LABELS[name]} ({c.a:.1f}) scores {-c.diff:.1f} points below a random "
                         f"subset of the same size ({c.b:.1f}; 95% CI of the difference {c.low:+.1f} to "
                         f"{c.high:+.1f}): it keeps {data_map_corner(pair.scores(), positions)}.")
    return notes


def profile_findings(profile: str, pairs: list[PairResults] | None = None) -> list[PairFinding]:
    pairs = pairs if pairs is not None else [PairResults(cfg) for cfg in profile_configs(profile)]
    return [f for f in map(pair_findings, pairs) if f is not None]


def overall(findings: list[PairFinding]) -> str:
    """The profile's verdict on the paper's average claim."""
    if not findings:
        return "no pair has phase-2 results yet"
    times = np.mean([f.times_smaller for f in findings])
    gains = [f.vs_full.diff for f in findings if f.vs_full is not None]
    scores, sizes = {f.score_verdict for f in findings}, {f.size_verdict for f in findings}
    verdict = ("not reproduced" if "not reproduced" in scores else
               "not reproduced at this scale" if "not reproduced" in sizes else
               "inconclusive at this scale" if "inconclusive" in scores else "reproduced")
    gain = f", ticket - full {np.mean(gains):+.1f} points on average" if gains else ""
    return (f"{verdict}: over {len(findings)} pair{'s' if len(findings) > 1 else ''}, the winning ticket is "
            f"{times:.1f}x smaller on average{gain} (the paper: {PAPER_TIMES_SMALLER:g}x smaller, "
            f"{PAPER_SCORE_GAIN:+.1f} points)")


def claims(findings: list[PairFinding]) -> pd.DataFrame:
    """Claim, paper, ours, verdict: per pair its size and its score against full data, then the average."""
    rows = []
    for f in findings:
        rows.append({"claim": f"{f.pair}: the winning ticket is much smaller than the training set",
                     "paper": f"{100 * f.paper_fraction:.0f}% of the training set",
                     "ours": f"{100 * f.fraction:.0f}% ({f.ticket} of {f.train}, {f.times_smaller:.1f}x smaller)",
                     "verdict": f.size_verdict})
        c = f.vs_full
        rows.append({"claim": f"{f.pair}: the ticket scores as full data ({f.metric}, {f.split})",
                     "paper": f"{f.paper_gain:+.1f} points" if f.paper_gain is not None else
                     f"{PAPER_SCORE_GAIN:+.1f} points on average",
                     "ours": "" if c is None else f"{c.diff:+.1f} points (95% CI {c.low:+.1f} to {c.high:+.1f})",
                     "verdict": f.score_verdict})
    if findings:
        gains = [f.vs_full.diff for f in findings if f.vs_full is not None]
        rows.append({"claim": "on average: 3x smaller, +0.1 points",
                     "paper": f"{PAPER_TIMES_SMALLER:g}x, {PAPER_SCORE_GAIN:+.1f} points",
                     "ours": f"{np.mean([f.times_smaller for f in findings]):.1f}x"
                             + (f", {np.mean(gains):+.1f} points" if gains else ""),
                     "verdict": overall(findings).split(":")[0]})
    return pd.DataFrame(rows, columns=["claim", "paper", "ours", "verdict"])


def finding_lines(findings: list[PairFinding]) -> list[str]:
    """One line per pair: size, against full data and each baseline with intervals, and the verdict."""
    out = []
    for f in findings:
        parts = [f"ticket {f.ticket} of {f.train} ({100 * f.fraction:.0f}%, {f.times_smaller:.1f}x smaller)"]
        for label, c in (("full data", f.vs_full), *((METHOD_LABELS[n], c) for n, c in f.vs_baselines.items())):
            if c is not None:
                parts.append(f"vs {label} {c.diff:+.1f} ({c.low:+.1f} to {c.high:+.1f}, {c.verdict})")
        out.append(f"**{f.pair}** ({f.metric}, {f.split}): " + "; ".join(parts) + f". Verdict: {f.verdict}.")
    return out


def limits(profile: str) -> list[str]:
    """The profile's scale against the paper's, computed from its configuration."""
    configs = profile_configs(profile)
    out = []
    models = sorted({c.model for c in configs})
    if models != [PAPER_MODEL] and set(models) - {PAPER_MODEL, "opt-350m"}:
        out.append(f"Model: {', '.join(models)}, not the paper's RoBERTa-large (355M parameters) and OPT-350m.")
    capped = [f"{c.task} {c.train_cap}" for c in configs if c.train_cap is not None]
    if capped:
        out.append(f"Training examples capped: {', '.join(capped)} (the paper trains on the whole training sets, "
                   "67k-550k examples).")
    for c in configs[:1]:
        p1, p2 = c.phase1, c.phase2
        if p1.batch_size != PAPER_SETTINGS["batch_size"] or p1.lr != PAPER_SETTINGS["lr"]:
            out.append(f"Phase 1: batch {p1.batch_size}, learning rate {p1.lr:g} (the paper: batch "
                       f"{PAPER_SETTINGS['batch_size']}, {PAPER_SETTINGS['lr']:g}).")
        if c.runs != PAPER_SETTINGS["runs"] or p1.epochs != PAPER_SETTINGS["epochs"]:
            out.append(f"Scoring: R = {c.runs} runs x E = {p1.epochs} epochs (the paper: 6 x 3).")
        seeds = len(p2.seeds)
        out.append(f"Phase 2: {seeds} seed{'s' if seeds > 1 else ''} per run"
                   + (" (the paper: one, 6666), so every comparison has a bootstrap interval over seeds and "
                      "evaluation examples." if seeds > 1 else " (as the paper): intervals resample evaluation "
                                                               "examples only."))
        if c.eval_cap is not None:
            out.append(f"Evaluation examples capped at {c.eval_cap} per split: one example moves accuracy by "
                       f"{100 / c.eval_cap:.2f} points or more.")
    return out
