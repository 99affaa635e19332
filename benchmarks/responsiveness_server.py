"""The responsiveness benchmark's two server-side figures, measured without a browser while the training child runs:
the Sensitivity page's script run after a β slider move (Streamlit's AppTest, the sensitivity report cached on disk)
and building and serialising a 24-layer heatmap figure (the Llama module types, random scores).

They complete the picture the browser measurements give: the server's own share of a slider step, and what drawing
the heatmap costs. Kept apart from the browser measurements because they need neither Chromium nor a running server.
"""

from __future__ import annotations

import time
from pathlib import Path

from headless import WAIT
from responsiveness_browser import SLIDER
from responsiveness_report import summary

APP = Path(__file__).resolve().parents[1] / "app.py"
LLAMA_TYPES = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
]


def slider_reruns(model: str, moves: int) -> dict:
    """Time of a Sensitivity-page script run after a β move, the report cached on disk (AppTest: no browser)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=WAIT)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = model
    at.run()
    at.switch_page("app_pages/sensitivity_page.py").run()
    next(b for b in at.button if b.label.startswith("Measure")).click().run()  # measured once, saved to disk
    assert not at.exception, at.exception
    slider = next(s for s in at.slider if s.label == SLIDER)
    times = []
    for i in range(moves + 2):
        start = time.perf_counter()
        at.slider(key=slider.key).set_value(1.0 + 0.1 * (i % 2)).run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return summary(times[2:])  # the first moves warm caches


def heatmap_render(repeats: int) -> dict:
    import numpy as np

    from adapt_core.plots.sensitivity_figures import sensitivity_heatmap
    from adapt_core.selection import ModuleStat, SensitivityReport

    rng = np.random.default_rng(0)
    rows = [
        ModuleStat(
            f"model.layers.{i}.{t}",
            i,
            t,
            589_824 if "proj" in t else 1000,
            float(rng.random()),
            float(rng.random()),
            (f"model.layers.{i}.{t}",),
        )
        for i in range(24)
        for t in LLAMA_TYPES
    ]
    report = SensitivityReport(rows, sum(r.params for r in rows))
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        sensitivity_heatmap(report.to_frame(beta=1.0, top_k=5.0 + i % 20)).to_json()
        times.append(time.perf_counter() - start)
    return summary(times[1:])
