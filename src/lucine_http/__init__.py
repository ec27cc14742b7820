"""lucine_http."""
