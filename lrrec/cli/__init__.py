"""The `lrrec` command line: thin click commands over library functions, one module per command group.

Every `LrrecError` becomes `Error: <message>` and exit status 1 (in `common.LrrecGroup`, in one place); heavy
libraries are imported inside the commands that need them, so `lrrec --help` stays fast.
"""

from lrrec.cli.app import cli, main

__all__ = ["cli", "main"]
