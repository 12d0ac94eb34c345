"""The refined projection head, applied without torch.

``workers.ml.element_refine`` trains it on a collection's tracks; the API and the labelling
apply it here with numpy, so the API process never needs torch. The head is residual:
``y = normalise(x + W2 relu(W1 x + b1) + b2)``; with ``W2 = 0`` (how training starts) it is
the identity on L2-normalised inputs. Stored as an ``.npz`` of float32 arrays (no pickles).
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np

KEYS = ("w1", "b1", "w2", "b2")


def to_bytes(weights: Mapping[str, np.ndarray]) -> bytes:
    missing = [key for key in KEYS if key not in weights]
    if missing:
        raise ValueError(f"a head needs {', '.join(KEYS)}; missing {', '.join(missing)}")
    buffer = io.BytesIO()
    arrays = {key: np.asarray(weights[key], np.float32) for key in KEYS}
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def from_bytes(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        return {key: np.asarray(stored[key], np.float32) for key in KEYS}


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-8)


def project(embeddings: np.ndarray, weights: Mapping[str, np.ndarray] | None) -> np.ndarray:
    """(N, D) pretrained embeddings -> (N, D) refined, L2-normalised float32 (no head: as is)."""
    x = normalise(embeddings)
    if weights is None:
        return x
    hidden = np.maximum(x @ weights["w1"].T + weights["b1"], 0.0)
    return normalise(x + hidden @ weights["w2"].T + weights["b2"])


def embeddings_from_bytes(rows: list[bytes], dimension: int | None = None) -> np.ndarray:
    """Stored float16 rows -> (N, D) float32."""
    if not rows:
        return np.zeros((0, dimension or 0), np.float32)
    return np.stack([np.frombuffer(row, np.float16) for row in rows]).astype(np.float32)
