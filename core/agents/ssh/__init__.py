"""Linux computers over SSH: the server reaches a computer with asyncssh,
ships the remote agent over the connection (``payload``), and speaks the
frame protocol of ``agent_src/backup_agent/wire.py`` with it.

``loop`` runs asyncssh on one background asyncio thread; ``connect`` opens
connections (host keys, clear errors); ``channel`` carries frames between that
loop and a task thread; ``agent`` is the Agent the engine uses and
``reader`` the server's side of a read session (source-side dedup)."""
