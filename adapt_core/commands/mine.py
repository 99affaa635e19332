"""`python -m adapt_core mine`: closed frequent token patterns of a corpus, written as JSON lines.

Sequences form: `--sequences FILE` holds one sequence per line as space-separated non-negative token ids (an empty
line is an empty sequence; it still counts towards a fractional min support). Each output line is
`{"pattern": [ids…], "support": n}`, most frequent first.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from adapt_core.errors import AdaptError
from adapt_core.mining import MODES, MiningConfig, mine

NAME = "mine"
HELP = "Mine closed frequent token sequences (contiguous n-grams or gapped BIDE patterns) into a JSON-lines file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Where the sequences come from: one option of this group (a --dataset/--model form can join it).
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--sequences", type=Path, help="Text file: one sequence of space-separated token ids a line."
    )
    add_mining_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="Output JSON-lines file.")


def add_mining_options(parser: argparse.ArgumentParser) -> None:
    """The MiningConfig knobs, with the config's defaults and help texts."""
    fields = MiningConfig.__dataclass_fields__
    defaults = MiningConfig()
    parser.add_argument("--mode", choices=MODES, default=defaults.mode, help=fields["mode"].metadata["help"])
    for name, kind in (("min_support", float), ("support_floor", int), ("min_len", int), ("max_len", int)):
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=getattr(defaults, name),
            help=fields[name].metadata["help"],
        )


def read_sequences(path: Path) -> list[list[int]]:
    """Parse the sequences file; any token that is not a non-negative integer is an AdaptError naming its line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise AdaptError(f"sequences file {path} not found: check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise AdaptError(f"cannot read sequences file {path} ({err}): give a UTF-8 text file") from None
    sequences = []
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not all(t.isdigit() and t.isascii() for t in tokens):
            bad = next(t for t in tokens if not (t.isdigit() and t.isascii()))
            raise AdaptError(
                f"{path}:{number}: {bad!r} is not a token id: each line must hold space-separated "
                "non-negative integers"
            )
        sequences.append([int(t) for t in tokens])
    return sequences


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write atomically: a temporary file beside the target, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    config = MiningConfig(
        mode=args.mode,
        min_support=args.min_support,
        support_floor=args.support_floor,
        min_len=args.min_len,
        max_len=args.max_len,
        max_examples=0,
    )
    sequences = read_sequences(args.sequences)
    result = mine(sequences, config)
    _write_jsonl(args.out, [{"pattern": list(p.ids), "support": p.support} for p in result.patterns])
    print(
        f"{len(result)} closed {config.mode} patterns from {result.n_sequences} sequences "
        f"(min support {result.min_count}) -> {args.out}"
    )
    return 0
