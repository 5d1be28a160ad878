"""`python -m lrrec.cli ...`: the same as the `lrrec` command."""

from lrrec.cli import main

main()
