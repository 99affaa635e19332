"""Shared by the benchmark scripts: the machine, versions and date written beside every result."""

from __future__ import annotations

import datetime
import os
import platform


def environment() -> dict:
    import torch
    import transformers

    from adapt_core.models import cpu_name

    env = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env
