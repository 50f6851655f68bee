"""The command line: parses options, asks the pipeline builder for parts, prints."""
