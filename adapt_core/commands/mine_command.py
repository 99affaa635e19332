"""`python -m adapt_core mine`: closed frequent token patterns of a corpus, written as JSON lines.

Sequences form: `--sequences FILE` holds one sequence per line as space-separated non-negative token ids (an empty
line is an empty sequence; it still counts towards a fractional min support). Each output line is
`{"pattern": [ids…], "support": n}`, most frequent first.

Dataset form: `--dataset NAME_OR_FILE --model NAME [--scorer NAME|none] [--max-new-tokens N] [--threshold X]
--out FILE.csv` mines vocabulary candidates for that model's tokenizer (`candidates.find_candidates`) and writes them
as a vetted list of pending candidates (CSV, or JSON by suffix): surface text, ids, support, per-class support,
purity, mutual information and PPLu when scored. Vet it, then `train --tokens FILE`.

`--accept auto` decides every candidate by the automatic acceptance policy (`token_policy.TokenPolicy`, the one
`train --method adapt` uses without a list; its settings are the `--tokens-…` flags, spelled as `train` spells
them) and writes the list with each
decision and its reason, so `train --tokens FILE` takes it as it is: `mine` → `train` without editing JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_text
from adapt_core.mining import MODES, MiningConfig, mine

NAME = "mine"
HELP = "Mine closed frequent token sequences (contiguous n-grams or gapped BIDE patterns) into a JSON-lines file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Where the sequences come from: one option of this group (a --dataset/--model form can join it).
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sequences", type=Path, help="Text file: one sequence of space-separated token ids a line.")
    source.add_argument("--dataset", help="Benchmark name or data file: mine vocabulary candidates for --model.")
    add_mining_options(parser)
    before = len(parser._actions)
    add_candidate_options(parser)
    # the flags of the --dataset form, each with its default: --sequences refuses any of them given
    only = [(a.dest, a.option_strings[0], a.default) for a in parser._actions[before:]]
    parser.set_defaults(dataset_only=only)
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="Output: JSON lines (--sequences), or a CSV/JSON vetted list of candidates (--dataset).",
    )


def add_candidate_options(parser: argparse.ArgumentParser) -> None:
    """Options of the --dataset form (vocabulary candidates for a model, scored by PPLu)."""
    from adapt_core.perplexity import PerplexityConfig

    help_of = {name: f.metadata["help"] for name, f in PerplexityConfig.__dataclass_fields__.items()}
    g = parser.add_argument_group("vocabulary candidates (with --dataset)")
    g.add_argument("--model", default=None, help="Classification model whose tokenizer is mined (default minilm-l6).")
    g.add_argument("--scorer", default=PerplexityConfig.scorer, help=help_of["scorer"] + " 'none': no scoring.")
    g.add_argument("--max-new-tokens", type=int, default=None, help=help_of["max_new_tokens"])
    g.add_argument("--threshold", type=float, default=None, help=help_of["threshold"])
    g.add_argument("--device", default="auto", help=help_of["device"])
    g.add_argument("--text-col", default=None, help="Text column (guessed when omitted).")
    g.add_argument("--label-col", default=None, help="Label column (guessed when omitted).")
    g.add_argument("--max-train", type=int, default=None, help="Mine a stratified slice of at most N train examples.")
    g.add_argument(
        "--accept",
        choices=("none", "auto"),
        default="none",
        help="none: every candidate pending (vet it yourself); auto: decided by the acceptance policy, with reasons.",
    )
    add_policy_options(parser)


# TokenPolicy fields that the --dataset form already sets through its own flags (--scorer, --min-support, …)
_SHARED = ("scorer", "min_support", "max_new_tokens")


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """One `--tokens-<field>` flag per TokenPolicy field (default, help and choices from the field): the same spelling
    as `train`'s flags for AdaPT's `tokens` policy, so a setting moves between the two commands as it is. The first
    spelling, `--policy-<field>`, is still understood."""
    from dataclasses import fields

    from adapt_core.token_policy import TokenPolicy

    g = parser.add_argument_group("acceptance policy (with --accept auto)")
    for f in fields(TokenPolicy):
        if f.name in _SHARED:
            continue
        kind = int if "int" in str(f.type) else float if "float" in str(f.type) else str
        g.add_argument(
            "--tokens-" + f.name.replace("_", "-"),
            "--policy-" + f.name.replace("_", "-"),
            dest="policy_" + f.name,
            type=kind,
            default=f.default,
            choices=f.metadata.get("choices"),
            help=f.metadata["help"],
        )


def policy_from_args(args: argparse.Namespace, config: MiningConfig):
    """The TokenPolicy the flags describe (the scorer, the min support and the cap come from the shared flags)."""
    from dataclasses import fields

    from adapt_core.token_policy import TokenPolicy

    own = {f.name: getattr(args, "policy_" + f.name) for f in fields(TokenPolicy) if f.name not in _SHARED}
    if own["pplu_threshold"] is None:
        own["pplu_threshold"] = args.threshold  # --threshold is the PPLu bound in both forms
    scorer = None if args.scorer.lower() == "none" else args.scorer
    support = int(config.min_support) if config.min_support >= 1 else None
    return TokenPolicy(scorer=scorer, min_support=support, max_new_tokens=args.max_new_tokens, **own)


def add_mining_options(parser: argparse.ArgumentParser) -> None:
    """The MiningConfig knobs, with the config's defaults and help texts."""
    fields = MiningConfig.__dataclass_fields__
    defaults = MiningConfig()
    parser.add_argument("--mode", choices=MODES, default=defaults.mode, help=fields["mode"].metadata["help"])
    knobs = (("min_support", float), ("support_floor", int), ("min_len", int), ("max_len", int), ("max_patterns", int))
    for name, kind in knobs:
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
                f"{path}:{number}: {bad!r} is not a token id: each line must hold space-separated non-negative integers"
            )
        sequences.append([int(t) for t in tokens])
    return sequences


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write atomically: a temporary file beside the target, then a rename."""
    atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in rows))


def run_dataset(args: argparse.Namespace, config: MiningConfig) -> int:
    """The --dataset form: pending vocabulary candidates with their statistics, saved as a vetted list."""
    from tqdm import tqdm

    from adapt_core.candidates import find_candidates
    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.models import DEFAULT_MODEL
    from adapt_core.perplexity import PerplexityConfig
    from adapt_core.vetting import merge_decisions

    if config.mode != "contiguous":
        raise AdaptError("vocabulary candidates are contiguous n-grams: drop --mode gapped with --dataset")
    if args.out.suffix.lower() not in (".csv", ".json"):
        raise AdaptError(f"--out {args.out.name}: candidates are written as a .csv or .json vetted list")
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise AdaptError(f"--max-new-tokens must be at least 1 (got {args.max_new_tokens}); omit it for no cap")
    existing = _existing_list(args.out, args.accept)
    data = load_dataset(
        args.dataset, DataConfig(text_col=args.text_col, label_col=args.label_col, max_train=args.max_train)
    )
    scoring = None
    if args.scorer.lower() != "none":
        scoring = PerplexityConfig(
            scorer=args.scorer, max_new_tokens=args.max_new_tokens, threshold=args.threshold, device=args.device
        )
    elif args.threshold is not None:
        raise AdaptError("--threshold is a PPLu bound: give a --scorer, or drop --threshold")
    with tqdm(desc="PPLu", unit="cand", disable=scoring is None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        if args.accept == "auto":
            return _accept_auto(args, data, config, scoring, progress)
        vetted = find_candidates(data, args.model or DEFAULT_MODEL, config, scoring, progress)
    if scoring is None and args.max_new_tokens is not None:
        vetted.candidates = vetted.candidates[: args.max_new_tokens]
    kept = ""
    if existing is not None:  # mined again into a list being vetted: its decisions stay (vetting.merge_decisions)
        vetted = merge_decisions(existing, vetted)
        kept = f", keeping the {_decisions(existing)} already in it"
    vetted.save(args.out)
    print(
        f"{len(vetted)} candidates from {len(data['train'])} train texts "
        f"({'by PPLu, ' + args.scorer if scoring else 'most frequent first, unscored'}) -> {args.out}{kept}"
    )
    return 0


def _existing_list(out: Path, accept: str):
    """The vetted list already at `out` (None when there is none), read before anything is mined: mining again
    into it keeps its decisions, and the policy (`--accept auto`), which decides every candidate, does not
    overwrite a list that holds any."""
    from adapt_core.vetting import load_vetted

    if not out.exists():
        return None
    try:
        existing = load_vetted(out)
    except AdaptError as err:
        raise AdaptError(f"--out {out} exists and is not a vetted list ({err}): give another --out") from None
    if accept == "auto" and len(existing) > existing.counts()["pending"]:
        raise AdaptError(
            f"--out {out} holds {_decisions(existing)}, which the policy would replace: give another --out "
            "(or mine without --accept auto to keep them)"
        )
    return existing


def _decisions(vetted) -> str:
    n = len(vetted) - vetted.counts()["pending"]
    return f"{n} decision{'' if n == 1 else 's'}"


def _accept_auto(args, data, config: MiningConfig, scoring, progress) -> int:
    """--accept auto: every candidate scored, then decided by the acceptance policy; a list `train --tokens` takes."""
    from dataclasses import replace

    from adapt_core.candidates import mine_candidates
    from adapt_core.models import DEFAULT_MODEL, load_tokenizer
    from adapt_core.token_policy import decide_by_policy

    policy = policy_from_args(args, config)
    model = args.model or DEFAULT_MODEL
    tokenizer = load_tokenizer(model)
    if scoring is not None:
        scoring = replace(scoring, max_new_tokens=None, max_new_share=1.0, threshold=None)  # the policy cuts
    found, min_count = mine_candidates(data, model, config, scoring, progress, tokenizer=tokenizer)
    if policy.min_fires is None:
        policy = replace(policy, min_fires=min_count)  # a fractional --min-support, resolved on this corpus
    vetted = decide_by_policy(found, data["train"], tokenizer, policy, data.num_labels)
    vetted.save(args.out)
    counts = vetted.counts()
    print(
        f"{counts['accepted']} of {len(vetted)} candidates accepted by the policy "
        f"({counts['rejected']} rejected, each with its reason) -> {args.out}"
    )
    if not counts["accepted"]:
        raise AdaptError("the policy accepted no candidate: lower --min-support or --tokens-min-specificity")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.sequences is not None:
        given = [flag for dest, flag, default in args.dataset_only if getattr(args, dest) != default]
        if given:
            raise AdaptError(
                f"{given[0]} goes with --dataset (mining a model's vocabulary candidates), not --sequences"
            )
    config = MiningConfig(
        mode=args.mode,
        min_support=args.min_support,
        support_floor=args.support_floor,
        min_len=args.min_len,
        max_len=args.max_len,
        max_patterns=args.max_patterns,
        max_examples=0 if args.sequences is not None else MiningConfig.max_examples,
    )
    if args.dataset is not None:
        return run_dataset(args, config)
    sequences = read_sequences(args.sequences)
    result = mine(sequences, config)
    _write_jsonl(args.out, [{"pattern": list(p.ids), "support": p.support} for p in result.patterns])
    print(
        f"{len(result)} closed {config.mode} patterns from {result.n_sequences} sequences "
        f"(min support {result.min_count}) -> {args.out}"
    )
    return 0
