"""Sources shipped to SSH computers (see core.remote.payload)."""
