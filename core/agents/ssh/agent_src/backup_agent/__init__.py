"""The remote agent: runs on a protected Linux computer with only python3,
shipped there as a zipapp over the SSH connection (see core.agents.ssh.payload).
Stdlib only, Python 3.8+."""
