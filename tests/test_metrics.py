"""Metrics against hand-computed values."""

import numpy as np
import pytest

from hscore import metrics


def test_accuracy_by_hand():
    # (the majority-class baseline is each kind's trivial(): tests/test_kinds.py)
    assert metrics.accuracy([0, 1, 1, 2], [0, 1, 2, 2]) == 75.0
    assert metrics.accuracy(np.array([1, 0, 1]), np.array([1, 0, 1])) == 100.0
    with pytest.raises(ValueError):
        metrics.accuracy([], [])
    assert set(metrics.METRICS) == {"accuracy", "macro_f1"}


def test_macro_f1_by_hand():
    # class 0: tp 1, fp 0, fn 1 -> F1 2/3; class 1: tp 2, fp 1, fn 0 -> F1 4/5
    predictions, labels = [0, 1, 1, 1], [0, 0, 1, 1]
    assert metrics.macro_f1(predictions, labels) == pytest.approx(100 * (2 / 3 + 4 / 5) / 2)
