"""The New/Edit Agent Backup Job wizard: its pages, its draft, the computer dialog."""
