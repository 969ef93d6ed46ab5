"""The findings box, the claims table and the limits: verdicts on the paper's claim from hand-made
comparisons whose answers are known, and the striking cases (constant classifier, a data map's corner)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hscore.analysis import findings
from hscore.analysis.findings import PairFinding
from hscore.analysis.stats import Comparison


def _c(diff, low, high, a=80.0):
    return Comparison(a=a, b=a - diff, diff=diff, low=low, high=high, p=0.5, seeds=3, examples=600, paired_seeds=True)


def _finding(train=800, ticket=260, vs_full=None, **kw):
    return PairFinding(pair="minilm / rotten_tomatoes", split="validation", metric="accuracy", train=train,
                       ticket=ticket, vs_full=vs_full if vs_full is not None else _c(0.2, -0.5, 0.9),
                       vs_baselines=kw.pop("vs_baselines", {}), majority=57.3, paper_fraction=1 / 3,
                       paper_gain=None, **kw)


@pytest.mark.parametrize("ticket, vs_full, size, score, verdict", [
    (260, _c(0.2, -0.5, 0.9), "reproduced", "reproduced", "reproduced"),            # 3.1x, no loss
    (260, _c(2.0, 0.5, 3.5), "reproduced", "reproduced", "reproduced"),             # higher beyond noise
    (260, _c(-2.0, -3.5, -0.5), "reproduced", "not reproduced", "not reproduced"),  # lower beyond noise
    (260, _c(-0.9, -3.5, 1.7), "reproduced", "inconclusive", "inconclusive at this scale"),
    (472, _c(-0.9, -3.5, 1.7), "not reproduced", "inconclusive", "not reproduced at this scale"),
    (333, _c(0.0, -0.8, 0.8), "reproduced", "reproduced", "reproduced"),            # 41.6%: within 1.25 x 33%
    (340, _c(0.0, -0.8, 0.8), "not reproduced", "reproduced", "not reproduced at this scale"),
])
def test_the_verdict_on_the_papers_claim(ticket, vs_full, size, score, verdict):
    f = _finding(ticket=ticket, vs_full=vs_full)
    assert (f.size_verdict, f.score_verdict) == (size, score)
    assert f.verdict.split(":")[0] == verdict


def test_a_ticket_without_phase_two_is_judged_on_its_size_only():
    f = PairFinding("m / t", "validation", "accuracy", 100, 30, None, {}, None, 1 / 3, None)
    assert f.score_verdict == "not measured" and f.verdict.startswith("size only")


def test_the_claims_table_has_a_size_and_a_score_row_per_pair_and_the_average():
    a = _finding(ticket=472, vs_full=_c(-0.9, -3.5, 1.7))
    b = _finding(train=480, ticket=331, vs_full=_c(-1.2, -2.8, 0.3))
    b.pair = "minilm / bbc_news"
    table = findings.claims([a, b])
    assert list(table.columns) == ["claim", "paper", "ours", "verdict"] and len(table) == 5
    assert table.loc[0, "ours"] == "59% (472 of 800, 1.7x smaller)" and table.loc[0, "verdict"] == "not reproduced"
    assert table.loc[1, "ours"] == "-0.9 points (95% CI -3.5 to +1.7)" and table.loc[1, "verdict"] == "inconclusive"
    assert table.loc[4, "ours"] == f"{(800 / 472 + 480 / 331) / 2:.1f}x, -1.1 points"
    assert table.loc[4, "verdict"] == "not reproduced at this scale"
    assert findings.overall([a, b]).startswith("not reproduced at this scale: over 2 pairs, the winning ticket is "
                                               "1.6x smaller")
    lower = _finding(vs_full=_c(-2.0, -3.5, -0.5))
    assert findings.overall([a, lower]).startswith("not reproduced: ")
    assert findings.overall([_finding(vs_full=_c(-0.9, -3.5, 1.7))]).startswith("inconclusive at this scale")
    assert findings.overall([_finding()]).startswith("reproduced")


def test_a_pair_of_the_paper_is_held_to_its_reported_size():
    f = _finding(ticket=480)
    f.paper_fraction = 0.62        # RoBERTa-large on RACE: 62%
    assert f.size_verdict == "reproduced" and "the paper: 62%" in f.verdict


def test_constant_classifiers_are_found_per_subset():
    rows = []
    for seed in (1, 2):
        for ex in range(4):
            rows.append({"method": "hscore", "subset": "remove-0-1-2-3-4-6", "seed": seed, "example_id": ex,
                         "prediction": 1, "label": ex % 2})
            rows.append({"method": "hscore", "subset": "remove-0-6", "seed": seed, "example_id": ex,
                         "prediction": ex % 2, "label": ex % 2})
    preds = pd.DataFrame(rows)

    class Cfg:
        runs = 6

    assert findings.constant_subsets(preds, Cfg) == ["H 5"]
    assert findings.constant_subsets(preds.drop(columns="prediction"), Cfg) == []   # QA keeps no class


def test_the_data_map_corner_a_subset_keeps():
    scores = pd.DataFrame({"confidence": [0.9, 0.9, 0.2, 0.3], "variability": [0.05, 0.05, 0.3, 0.35]})
    assert findings.data_map_corner(scores, np.array([2, 3])).startswith(
        "the low-confidence, high-variability part of the data map (mean confidence 0.25 against 0.57")
    assert findings.data_map_corner(scores, np.array([0, 2])).startswith("examples placed like the whole set")


def test_limits_say_how_the_profile_differs_from_the_paper():
    default = findings.limits("default")
    assert any("minilm" in line and "RoBERTa-large" in line for line in default)
    assert any("rotten_tomatoes 800, bbc_news 480" in line for line in default)
    assert any("batch 8, learning rate 0.0001" in line for line in default)
    assert any("3 seeds per run" in line for line in default)
    paper = findings.limits("paper")
    assert not any("Model:" in line or "capped" in line for line in paper)
    assert any("1 seed per run (as the paper)" in line for line in paper)
