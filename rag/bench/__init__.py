"""Benchmarks: indexing, retrieval at scale, answering, and a peer on the same questions."""
