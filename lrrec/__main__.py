"""`python -m lrrec ...`: the same as the `lrrec` command."""

from lrrec.cli import main

main()
