"""Data files shipped with the adapters, such as the sample knowledge base."""
