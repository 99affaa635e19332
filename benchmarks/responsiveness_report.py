"""What the responsiveness benchmark reports: progress lines on stderr while it measures (`say`), each measurement's
samples summarised as n, median, p90 and max (`summary`, the shape every figure has in the JSON), and the Markdown
table of those figures against their targets (`table`, as the README shows it).

Shared by the browser and the server-side measurements and by the command line, so every figure is summarised and
shown one way.
"""

from __future__ import annotations

import statistics
import sys
import time


def say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "max": ordered[-1],
        "samples": samples,
    }


def table(result: dict) -> str:
    poll = result["poll_seconds"]
    rows = [
        ("Vetting click → counts updated (browser)", result.get("vetting_click_s"), "≤ 1.0 s"),
        ("β slider step → heatmap redrawn (browser)", result.get("slider_move_s"), "≤ 1.0 s"),
        ("Page switch → page settled (browser)", result.get("page_switch_s"), "≤ 1.5 s"),
        (
            "Metrics line written → drawn in the live chart (browser)",
            result.get("chart_delay_s"),
            f"≤ {poll + 1:.1f} s",
        ),
        ("Sensitivity script run after a β move (server, AppTest)", result["slider_rerun_s"], "—"),
        ("Heatmap build + serialise, 24 layers × 7 types (server)", result["heatmap_render_s"], "—"),
    ]
    lines = ["| measurement (training child running) | median | p90 | max | n | target |", "|---|---|---|---|---|---|"]
    for name, r, target in rows:
        if r is None or "skipped" in r:
            why = r["skipped"] if r else "not run"
            lines.append(f"| {name} | skipped: {why} | | | | {target} |")
        else:
            cells = " | ".join(f"{r[k]:.3f} s" for k in ("median", "p90", "max"))
            lines.append(f"| {name} | {cells} | {r['n']} | {target} |")
    return "\n".join(lines)
