"""The analysis stages by name: which queue runs each, what it reads and what it leaves for
the stages after it. The orchestrator runs them in registration order.

A stage is a module with a function ``(analysis_id, call: StageCall) -> StageOutcome`` plus one
``STAGES.add(...)`` below; the runner is named by its dotted path and imported on
first use, so reading the registry (the API, a cpu worker) never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app.core.registry import Registry, load_object

if TYPE_CHECKING:
    from workers.stages.base import StageRunner

Queue = Literal["cpu", "gpu"]
QUEUE_CPU: Queue = "cpu"
QUEUE_GPU: Queue = "gpu"
# Celery task names: "hybridlens.analysis.<stage name>".
TASK_PREFIX = "hybridlens.analysis."


@dataclass(frozen=True)
class Stage:
    """One registered stage. ``inputs`` and ``outputs`` name what it reads and leaves
    ("film", "spool.frames", "db.results"...); every input must be the film or an output of an
    earlier stage."""

    name: str
    queue: Queue
    runner: str  # "package.module:function", imported on first use
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    description: str = ""

    @property
    def task_name(self) -> str:
        return TASK_PREFIX + self.name

    def load(self) -> StageRunner:
        runner: StageRunner = load_object(self.runner)
        return runner


class StageRegistry(Registry[Stage]):
    """Stages in the order they run."""

    def __init__(self) -> None:
        super().__init__("analysis stage")

    def add(self, stage: Stage) -> Stage:
        """Register ``stage`` after the others; its inputs must be there by then."""
        available = {"film"}.union(*(known.outputs for known in self))
        missing = [name for name in stage.inputs if name not in available]
        if missing:
            raise ValueError(
                f"analysis stage {stage.name!r} reads {', '.join(missing)}, which no earlier "
                "stage writes"
            )
        return self.register(stage.name, stage)

    def after(self, name: str) -> Stage | None:
        """The stage that runs after ``name``, None after the last."""
        names = self.names()
        position = names.index(self.get(name).name)
        return self.get(names[position + 1]) if position + 1 < len(names) else None

    @property
    def first(self) -> Stage:
        return self.get(self.names()[0])


STAGES = StageRegistry()
STAGES.add(
    Stage(
        name="prepare",
        queue=QUEUE_CPU,
        runner="workers.stages.prepare:prepare",
        inputs=("film",),
        outputs=("db.probe", "db.detector", "spool.frames", "spool.manifest"),
        description="probe, one decode through shot detection and sampling, frames spooled",
    )
)
STAGES.add(
    Stage(
        name="infer",
        queue=QUEUE_GPU,
        runner="workers.stages.infer:infer",
        inputs=("spool.frames", "spool.manifest"),
        outputs=("spool.results",),
        description="classify every spooled frame, segment the hybrids",
    )
)
STAGES.add(
    Stage(
        name="embed",
        queue=QUEUE_GPU,
        runner="workers.stages.embed:embed",
        inputs=("spool.frames", "spool.manifest"),
        outputs=("spool.embeddings",),
        description="a pooled pretrained embedding for every spooled frame",
    )
)
STAGES.add(
    Stage(
        name="scenes",
        queue=QUEUE_GPU,
        runner="workers.stages.scenes:scenes",
        inputs=("spool.manifest", "spool.embeddings", "spool.frames"),
        outputs=("spool.scenes",),
        description="shots grouped into scenes (pipeline.scenes.detector)",
    )
)
STAGES.add(
    Stage(
        name="finish",
        queue=QUEUE_CPU,
        runner="workers.stages.finish:finish",
        inputs=("spool.manifest", "spool.results", "spool.embeddings", "spool.scenes"),
        outputs=("db.results",),
        description="statistics; shots, frames, embeddings, scenes and summary stored; "
        "analysis closed",
    )
)
