"""The sessions lists (History, Last 24 Hours) and their commands: statistics, report and stop."""
