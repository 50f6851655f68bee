"""Checks on a drafted answer: citations, support, numbers and the named answer rules."""
