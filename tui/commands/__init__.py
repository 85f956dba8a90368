"""One module per `optplay` command (run, bench, list, lesson, sweep, serve), each with `NAME`,
`add_parser(subparsers)` and `handle(args)`, registered by the table in tui/cli.py; what they
share is public in common.py, the executor flags and progress of many runs in running.py.
None imports a UI library at import time, nor tui/cli.py (no cycle)."""
