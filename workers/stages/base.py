"""What every stage shares: how it is called (``StageCall``), what it answers
(``StageOutcome``), its progress meter, and the outcomes of a stage that found its analysis
no longer running or its film unreadable.

A stage takes an analysis id, reads what it needs through the ``Store`` and the spool,
records its progress through ``Meter`` and stops cleanly when that says the analysis was
cancelled. The pipeline settings come from the analysis row, not from the process, so every
stage of one analysis works with the settings its key was made from. Re-running a stage
overwrites its output; anything unexpected propagates, for the orchestrator's one failure
policy to retry or fail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.core.config import Settings
from app.core.domain import RunStatus
from workers.leases import Lease
from workers.stages.models import Models, ModelVersions, picture_settings
from workers.stages.spool import Spool
from workers.stages.store import AnalysisContext, Store

if TYPE_CHECKING:
    from workers.stages.early import EarlyInference

log = logging.getLogger(__name__)

# ``extra`` of the log record that states an analysis's outcome (failed, or partial and why).
# Whoever ran the analysis is told it too (the CLI prints it to its user), so a handler of
# theirs may leave such records out; workers' logs keep them.
OUTCOME_LOG = {"analysis_outcome": True}

# Progress reaches the database at most this often (it is also when cancellation is noticed).
PROGRESS_INTERVAL_S = 1.0

# (stage, done, total): frames decoded / classified / stored so far; total None if unknown.
ProgressSink = Callable[[str, int, int | None], None]


class ModelMismatch(RuntimeError):
    """The models of this process are not those the analysis was started with."""


class AnalysisStopped(Exception):
    """The analysis stopped being active (cancelled, finished or deleted) while a stage ran."""


@dataclass(frozen=True)
class StageCall:
    """What a stage is called with, whoever calls it.

    ``models`` are loaded models or a function that loads them on first use (a cpu worker
    never calls it). ``film_path`` reads the film from there instead of its stored path (the
    embedded mode knows where the file is now; a film registered earlier may have moved).
    ``lease`` is the job's stage lease this run holds (None when called outside a job).
    ``early`` is shared by the stages of a job run in one process (``run_job``): ``prepare``
    leaves there, by analysis id, the ``infer`` work it started on the frames as it sampled
    them (``workers.stages.early``); None where each stage may run in another process.
    """

    settings: Settings
    progress: ProgressSink | None = None
    models: Models | Callable[[], Models] | None = None
    film_path: str | Path | None = None
    lease: Lease | None = None
    early: dict[int, EarlyInference] | None = None

    @property
    def store(self) -> Store:
        return Store(self.settings.sqlalchemy_url)

    def spool(self, analysis_id: int) -> Spool:
        return Spool(self.settings.data_dir, analysis_id)

    def loaded_models(self) -> Models:
        if self.models is None:
            raise RuntimeError("this stage needs models and was called without them")
        return self.models if isinstance(self.models, Models) else self.models()


@dataclass(frozen=True)
class StageOutcome:
    """What a stage did. ``proceed`` says whether the next stage should run."""

    analysis_id: int
    stage: str
    # RUNNING when the analysis goes on to the next stage; otherwise its final status
    # (``finish`` gives DONE or PARTIAL; a bad film FAILED; a cancelled one CANCELLED).
    status: RunStatus
    seconds: float
    error: str | None = None

    @property
    def proceed(self) -> bool:
        return self.status is RunStatus.RUNNING


class StageRunner(Protocol):
    def __call__(self, analysis_id: int, call: StageCall) -> StageOutcome: ...


def analysis_settings(settings: Settings) -> dict[str, Any]:
    """The settings an analysis is keyed on (and that its stages run with): everything that
    changes results, nothing that only changes where or how fast they are computed."""
    return {
        "pipeline": settings.pipeline.model_dump(mode="json"),
        "thresholds": settings.model.thresholds.model_dump(mode="json"),
        "picture": picture_settings(settings.model),
    }


def check_models(context: AnalysisContext, models: Models) -> None:
    """Raise ``ModelMismatch`` unless this process's models are the analysis's and look at
    the same picture of each frame (analyses from before that was stored: any)."""
    expected = ModelVersions(context.classifier_version, context.segmenter_version)
    if models.versions != expected:
        raise ModelMismatch(
            f"analysis {context.analysis_id} was started with classifier "
            f"{context.classifier_version} and segmenter {context.segmenter_version}; this "
            f"process has {models.versions}"
        )
    # The settings the analysis stored (none before they were stored: any will do); burned-in
    # regions are stored only when there are some.
    if context.picture is None:
        return
    stored = {"burn_in_regions": [], **context.picture}
    mine = {"burn_in_regions": [], **models.picture}
    if any(mine.get(name, value) != value for name, value in stored.items()):
        raise ModelMismatch(
            f"analysis {context.analysis_id} was started with {_settings_text(stored)};"
            f" this process has {_settings_text(mine)}"
        )


def _settings_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} {_setting_text(value)}" for name, value in sorted(values.items()))


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value or "none")


def inactive(
    analysis_id: int, stage: str, context: AnalysisContext | None, started: float
) -> StageOutcome:
    """The outcome of a stage that found (or left) its analysis no longer running."""
    if context is None:
        return StageOutcome(
            analysis_id,
            stage,
            RunStatus.CANCELLED,
            time.perf_counter() - started,
            error=f"analysis {analysis_id} no longer exists",
        )
    status = context.status
    if context.active:  # pragma: no cover - racing restart
        status = RunStatus.CANCELLED
    return StageOutcome(analysis_id, stage, status, time.perf_counter() - started)


def failed(
    context: AnalysisContext, call: StageCall, stage: str, reason: str, started: float
) -> StageOutcome:
    """A film that cannot be analysed: the analysis fails with the reason, its spool goes."""
    log.warning("analysis %s failed: %s", context.analysis_id, reason, extra=OUTCOME_LOG)
    call.spool(context.analysis_id).remove()
    call.store.fail_analysis(context.analysis_id, reason)
    return StageOutcome(
        context.analysis_id, stage, RunStatus.FAILED, time.perf_counter() - started, error=reason
    )


def lap(mark: float) -> float:
    return time.perf_counter() - mark


class Meter:
    """Progress of one stage: every step to the sink, a few per second to the database,
    whose answer says whether to go on (``AnalysisStopped`` when not)."""

    def __init__(self, analysis_id: int, stage: str, call: StageCall) -> None:
        self.analysis_id = analysis_id
        self.stage = stage
        self.store = call.store
        self.sink = call.progress
        self.lease = call.lease
        self.total: int | None = None
        self._written_at = 0.0

    def begin(self, total: int | None) -> None:
        self.total = total
        self._write(0.0)
        if self.sink is not None:
            self.sink(self.stage, 0, total)

    def update(self, done: int) -> None:
        if self.lease is not None:
            self.lease.check()  # LeaseLost: another runner has this stage now
        if self.sink is not None:
            self.sink(self.stage, done, self.total)
        if time.monotonic() - self._written_at >= PROGRESS_INTERVAL_S:
            # An estimated frame count can be short: never claim the stage is over early.
            self._write(min(done / self.total, 0.99) if self.total else 0.0)

    def end(self) -> None:
        self._write(1.0)

    def _write(self, fraction: float) -> None:
        self._written_at = time.monotonic()
        if not self.store.update_progress(self.analysis_id, self.stage, fraction):
            raise AnalysisStopped(self.analysis_id)
