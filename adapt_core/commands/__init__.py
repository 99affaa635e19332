"""Sub-commands of `python -m adapt_core`, one module each.

Every module here defines `NAME` (the sub-command), `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
`adapt_core.cli` discovers them, so adding a sub-command never means editing a shared file.
"""
