"""candidate_stats.py: specificity, mutual information and per-class support worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest


def test_specificity_and_mutual_info_by_hand():
    """Six training texts, labels 0 0 1 1 1 1 (chance 1/3 and 2/3). A candidate in texts 0, 1, 2 (support 2, 1):
    purity 2/3 for class 0, specificity (2/3 − 1/3) / (1 − 1/3) = 0.5; MI = H(Y) − H(Y | X) = 0.6365 − 0.3183.
    One in texts 2–5 only (0, 4): purity 1, chance 2/3, specificity 1; MI = H(Y) − 0 = 0.6365. One spread like
    the labels (1, 2): specificity 0. The policy's statistics and the table's column are the same numbers."""
    from adapt_core.candidate_stats import candidate_specificity, class_stats, specificity
    from adapt_core.mining import _mutual_info
    from adapt_core.vetting import VettedCandidate, VettedList

    labels = [0, 0, 1, 1, 1, 1]
    rows = [{0, 1, 2}, {2, 3, 4, 5}, {0, 2, 3}, set()]
    counts = np.array([[2, 1], [0, 4], [1, 2], [0, 0]])
    h_y = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    assert specificity(counts, [2, 4]) == pytest.approx([0.5, 1.0, 0.0, 0.0])
    assert _mutual_info(counts[:2], np.array([2, 4]), 6) == pytest.approx([h_y / 2, h_y])
    st = class_stats(rows, labels, 2)
    assert st.specificity == pytest.approx([0.5, 1.0, 0.0, 0.0])
    vetted = VettedList(
        [VettedCandidate(f"c{i}", class_support=tuple(int(v) for v in row)) for i, row in enumerate(counts)]
        + [VettedCandidate("hand written")],
        ["a", "b"],
    )
    assert candidate_specificity(vetted, labels) == pytest.approx([0.5, 1.0, 0.0, 0.0, None])
