"""Home's jobs list and every job command and dialog, with the job wizard."""
