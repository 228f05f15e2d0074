"""Off the GUI thread and back: task runner, server events, dialog tracking, settings."""
