"""Answer models: chat messages in, a stream of text pieces out."""
