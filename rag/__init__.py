"""sovereign-rag: offline question answering over Chinese documents, with checked citations."""

import os

__version__ = "0.1.0"

# The product never reaches a model hub: make every Hugging Face library fail fast instead.
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_name] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
