"""lucine_cli."""
