"""Reading a corpus folder: one reader per format, documents, chunks."""
