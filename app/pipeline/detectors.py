"""Shot detectors by name (``ShotSettings.detector``): what makes each and on which queue it
wants to run.

Factories are named by dotted path and imported only when a detector is made, so a detector
that needs torch (a neural one, on the gpu queue) is registered here without this module, the
settings that check names against it, or the API ever importing torch. Adding a detector is
a module whose factory takes ``(settings: ShotSettings, fps: float)`` and returns a
``ShotBoundaryDetector``, plus one ``_register`` line below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from app.core.registry import Registry, load_object

if TYPE_CHECKING:
    from app.core.config import ShotSettings
    from app.pipeline.shots import Shot
    from app.pipeline.video import DecodedFrame


class ShotBoundaryDetector(Protocol):
    """Fed the frames of the one decode in order; gives the shots at the end."""

    @property
    def cut_lag_frames(self) -> int:
        """How many frames behind the current one a cut may still be reported."""
        ...

    def process(self, frame: DecodedFrame) -> list[int]:
        """Look at the next frame; frame numbers of cuts found so far (hints for sampling)."""
        ...

    def finish(self) -> list[Shot]:
        """Shots covering every frame processed."""
        ...

    def describe(self) -> dict[str, Any]:
        """The detector and settings that found the shots, stored with the results."""
        ...


@dataclass(frozen=True)
class DetectorEntry:
    name: str
    factory: str  # "package.module:callable", imported when a detector is made
    # Where it runs best: "gpu" for a detector that wants torch on a GPU.
    queue: Literal["cpu", "gpu"] = "cpu"
    description: str = ""


DETECTORS: Registry[DetectorEntry] = Registry("shot detector")


def create_detector(settings: ShotSettings, *, fps: float) -> ShotBoundaryDetector:
    """The detector ``settings.detector`` names; ``UnknownName`` for one not registered."""
    entry = DETECTORS.get(settings.detector)
    detector: ShotBoundaryDetector = load_object(entry.factory)(settings, fps)
    return detector


def _register(entry: DetectorEntry) -> None:
    DETECTORS.register(entry.name, entry)


SCENEDETECT = "app.pipeline.shots:ShotDetector"
_register(DetectorEntry("adaptive", SCENEDETECT, description="PySceneDetect adaptive + fades"))
_register(DetectorEntry("content", SCENEDETECT, description="PySceneDetect content + fades"))
_register(DetectorEntry("threshold", SCENEDETECT, description="PySceneDetect fades only"))
_register(
    DetectorEntry(
        "transnetv2",
        "workers.shots.transnet:create",
        queue="gpu",
        description="adaptive cuts + TransNetV2 dissolves and fades + wipe test; typed transitions",
    )
)
