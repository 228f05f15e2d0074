"""The backup server's process: its REST API and event stream (``app``), the
client that is the facade over HTTP (``client``), starting and finding the
server (``launcher``) and running it (``runtime``)."""
