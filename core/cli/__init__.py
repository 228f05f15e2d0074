"""``agent-jobs``: the command-line client of the backup server."""
from core.cli.main import main

__all__ = ["main"]
