"""Embedding models: texts in, normalised vectors out; e5 converted from its PyPI package."""
