"""Answering a question in small steps: understand it, build the prompt, draft with the
model, check, render."""
