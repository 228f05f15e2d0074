"""Home → Overview: the state of the backup server at a glance."""
