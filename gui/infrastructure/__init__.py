"""Backup Infrastructure: the repositories list, the Add Repository wizard, Remove and Rescan."""
