"""lucine_adapters."""
