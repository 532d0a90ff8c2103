"""`python -m crosspost` runs the CLI."""

from crosspost.cli import main

main()
