"""`python -m adapt_core bench compare …`: the comparison grid script, from the command line of the library.

The grid's scripts live in `benchmarks/` of the source tree (they are measurements, not library code); this
sub-command finds them beside the package and runs them with the remaining arguments.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from adapt_core.errors import AdaptError

NAME = "bench"
HELP = "Run a benchmark script of the source tree (compare: the tasks × methods × seeds grid)."
SCRIPTS = {"compare": "compare.py"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmark", choices=sorted(SCRIPTS), help="Which benchmark.")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="Arguments for the script (see its --help).")


def run(args: argparse.Namespace) -> int:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / SCRIPTS[args.benchmark]
    if not script.exists():
        raise AdaptError(f"{script.name} is not here: run this from a source checkout of the project")
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        return int(done.code or 0)
    return 0
