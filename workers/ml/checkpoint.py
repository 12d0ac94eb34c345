"""Where the shipped checkpoints lie, what their files are called, and the version an analysis
is keyed on. Torch-free, so an analysis can be keyed before the models have loaded."""

from __future__ import annotations

import hashlib
from pathlib import Path

CONFIG_NAME = "hybridlens.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_CLASSIFIER_DIR = WEIGHTS_DIR / "classifier"
DEFAULT_SEGMENTER_DIR = WEIGHTS_DIR / "segmenter"


def weights_version(directory: Path) -> str:
    digest = hashlib.sha256((directory / WEIGHTS_NAME).read_bytes()).hexdigest()
    return digest[:12]
