"""Restore points on disk (Home > Backups): restore files, verify, delete from disk."""
