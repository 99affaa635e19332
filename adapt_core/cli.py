"""The command line: `python -m adapt_core <sub-command> …`.

Sub-commands live one per module in `adapt_core/commands/` and are discovered here, so the parser is built from
whatever the package ships. Errors a user can fix (bad input) print one clear line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from adapt_core import commands
from adapt_core.errors import AdaptError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m adapt_core",
        description="AdaPT Studio: adapt small language models to text-classification tasks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if not hasattr(module, "NAME"):  # shared helpers (command_options.py) are not sub-commands
            continue
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except AdaptError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
