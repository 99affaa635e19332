"""evaluate.py: metrics hand-checked on tiny label vectors, including a class absent from the split."""

import numpy as np
import pytest

from adapt_core.evaluate import evaluate


def test_hand_checked_scores():
    result = evaluate([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    assert result.accuracy == 0.75
    # class a: p=1, r=.5, f1=2/3; class b: p=2/3, r=1, f1=.8 → macro .7333
    assert result.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert result.micro_f1 == 0.75
    assert result.confusion.tolist() == [[1, 1], [0, 2]]


def test_class_absent_from_split_is_not_averaged_and_does_not_crash():
    result = evaluate([0, 1, 0, 1], [0, 1, 0, 1], ["a", "b", "never"])
    assert result.macro_f1 == 1.0
    assert result.per_class.loc["never", "support"] == 0
    assert np.asarray(result.confusion).shape == (3, 3)
