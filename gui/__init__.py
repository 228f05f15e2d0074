"""The desktop console (PySide6) of Agent Backup Console."""
