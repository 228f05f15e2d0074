"""Sources shipped to SSH computers (see core.agents.ssh.payload)."""
