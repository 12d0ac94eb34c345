"""Where the shipped checkpoints lie, what their files are called, and the version an analysis
is keyed on. Torch-free, so an analysis can be keyed before the models have loaded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CONFIG_NAME = "hybridlens.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_CLASSIFIER_DIR = WEIGHTS_DIR / "classifier"
DEFAULT_SEGMENTER_DIR = WEIGHTS_DIR / "segmenter"


def weights_version(directory: Path) -> str:
    digest = hashlib.sha256((directory / WEIGHTS_NAME).read_bytes()).hexdigest()
    return digest[:12]


def encoder_source(directory: Path) -> str | None:
    """The version of the model whose frozen encoder this one was trained on (``train ...
    --encoder-from``), from its ``hybridlens.json``; None when it has its own."""
    try:
        meta = json.loads((directory / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return None
    source = (meta.get("training") or {}).get("encoder_from") or {}
    version = source.get("version") if isinstance(source, dict) else None
    return version if isinstance(version, str) else None
