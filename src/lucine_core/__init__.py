"""lucine_core."""
