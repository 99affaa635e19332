"""Sub-commands of `python -m adapt_core`, one module each, named `<sub-command>_command.py`.

Every module here defines `NAME` (the sub-command), `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
`adapt_core.cli` discovers them, so adding a sub-command never means editing a shared file. The argument groups
several sub-commands share live in `command_options.py`, which has no `NAME`.
"""
