"""`python -m adapt_core runs [list|delete|restore|trash|empty-trash|tag|note|export]`: list and manage run folders.

`runs` alone (or `runs list`) lists the runs with their state, scores and tags; a run with a damaged file is listed as
`unreadable`, with a line below the table naming the file and the reason. `delete` moves a run to the trash under
the runs root (`restore` brings it back, `empty-trash --yes` removes it for good); `tag` and `note` label a run;
`export` writes it as a zip. The logic is in `adapt_core.run_management`; this module only parses and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "runs"
HELP = "List runs (state, scores, tags) and manage them: delete, restore, trash, empty-trash, tag, note, export."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None, help="Runs folder (default: $ADAPT_RUNS_DIR or runs/).")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="List the runs (the default).")
    listing.add_argument("--tag", default=None, help="Only the runs with this tag.")
    for action, what in (("delete", "Move a run to the trash (restorable)."), ("export", "Write a run as a zip.")):
        p = sub.add_parser(action, help=what)
        p.add_argument("run", help="Run id (from `runs`) or run folder.")
    sub.add_parser("restore", help="Move a run from the trash back.").add_argument("run", help="Run id in the trash.")
    sub.add_parser("trash", help="List the runs in the trash.")
    empty = sub.add_parser("empty-trash", help="Remove every run in the trash for good.")
    empty.add_argument("--yes", action="store_true", help="Confirm: the runs in the trash are removed for good.")
    tag = sub.add_parser("tag", help="Set a run's tags (none clears them).")
    tag.add_argument("run", help="Run id (from `runs`) or run folder.")
    tag.add_argument("tags", nargs="*", help="The tags, e.g. baseline lecture-3.")
    note = sub.add_parser("note", help="Set a run's note ('' clears it).")
    note.add_argument("run", help="Run id (from `runs`) or run folder.")
    note.add_argument("text", help="The note.")
    sub.choices["export"].add_argument("--out", type=Path, default=None, help="Zip file (default: <root>/.exports/).")
    for p in sub.choices.values():  # `runs delete X --root R` reads as naturally as `runs --root R delete X`
        p.add_argument("--root", type=Path, default=argparse.SUPPRESS, help="Runs folder (as above).")


def run(args: argparse.Namespace) -> int:
    from adapt_core import run_management as manage
    from adapt_core.errors import AdaptError
    from adapt_core.run_reader import list_runs

    action = args.action or "list"
    if action == "list":
        return _print(manage.with_tag(list_runs(args.root), getattr(args, "tag", None)), "no runs yet")
    if action == "trash":
        return _print(manage.list_trash(args.root), "the trash is empty")
    if action == "restore":
        print(f"restored to {manage.restore_run(args.run, args.root)}")
    elif action == "empty-trash":
        if not args.yes:
            raise AdaptError("empty-trash removes the runs in the trash for good: add --yes to confirm")
        print(f"removed {manage.empty_trash(args.root)} run(s) from the trash")
    elif action == "delete":
        print(
            f"moved to the trash: {manage.trash_run(manage.find_run(args.run, args.root))} (`runs restore` undoes it)"
        )
    elif action == "tag":
        print("tags: " + (", ".join(manage.set_tags(manage.find_run(args.run, args.root), args.tags)) or "(none)"))
    elif action == "note":
        print("note: " + (manage.set_note(manage.find_run(args.run, args.root), args.text) or "(none)"))
    elif action == "export":
        run_dir = manage.find_run(args.run, args.root)
        print(f"wrote {manage.export_zip(run_dir, args.out)}")
        if not manage.loads_plainly(run_dir):
            print("its model/ needs adapt_core to load (methods_io.load_trained): prefix tuning, STC or no model")
    return 0


def _print(runs: list, empty: str) -> int:
    from adapt_core.run_management import manage_table

    if not runs:
        print(empty)
        return 0
    print(manage_table(runs).drop(columns=["note", "plain_model"]).to_string(index=False))
    for info in runs:
        if info.problem:
            print(f"{info.id}: unreadable: {info.problem}")
    return 0
