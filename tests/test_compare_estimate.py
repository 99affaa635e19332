"""benchmarks/compare_estimate.py: the plan's CPU hours count the padded tokens the training loop really batches."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the benchmark scripts' modules
from compare_estimate import padded_tokens  # noqa: E402


def test_padded_tokens_follow_the_training_loops_batching():
    # cut to 4: [3, 4, 4, 2]; grouped into [4, 4] and [3, 2]: 2 × 4 and 2 × 3 tokens per batch
    assert padded_tokens([3, 5, 9, 2], max_length=4, batch_size=2, grouped=True) == 7
    lengths = [(13 * i) % 60 + 5 for i in range(640)]
    grouped = padded_tokens(lengths, 128, 32, True)
    plain = padded_tokens(lengths, 128, 32, False)
    assert sum(lengths) / 20 <= grouped < plain  # never below the real tokens; grouping pads less
