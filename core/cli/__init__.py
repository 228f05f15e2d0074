"""``agent-jobs``: the command-line client of the backup server."""
from .main import main

__all__ = ["main"]
