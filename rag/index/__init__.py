"""The index: a folder with a manifest, vectors in a store, BM25 and name pairs."""
