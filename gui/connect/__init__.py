"""Connect to backup server: the console's first window when it is a client of
a server on another machine (TLS, a named user)."""
