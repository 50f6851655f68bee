"""Scoring retrieval, answers and citations against eval sets."""
