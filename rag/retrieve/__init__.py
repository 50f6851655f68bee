"""Hybrid retrieval: dense and BM25 candidates fused, overlaps removed."""
