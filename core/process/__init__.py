"""What this process asks of the operating system: owner-only files, descriptor limits, giving
memory back, and the record of which process owns a data directory."""
