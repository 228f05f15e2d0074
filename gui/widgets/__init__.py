"""Qt pieces no node owns: wizard frame, tables, search, inventory, scopes, formatting."""
