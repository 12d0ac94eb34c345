"""The stage registry and the orchestrator's one failure policy (no models, no database)."""

from __future__ import annotations

import pytest
import sqlalchemy.exc

from app.core.config import Settings, TaskSettings
from app.core.registry import UnknownName
from app.jobs.dispatch import QUEUE_CPU, TASK_PREPARE
from workers.orchestrator import RetryLater, failure_policy
from workers.stages.base import ModelMismatch
from workers.stages.registry import QUEUE_GPU, STAGES, Stage, StageRegistry


def test_stages_run_prepare_infer_embed_scenes_finish_with_models_on_the_gpu_queue() -> None:
    assert [(stage.name, stage.queue) for stage in STAGES] == [
        ("prepare", "cpu"),
        ("infer", QUEUE_GPU),
        ("embed", QUEUE_GPU),
        ("scenes", QUEUE_GPU),
        ("finish", "cpu"),
    ]
    assert STAGES.after("prepare") is STAGES.get("infer")
    assert STAGES.after("infer") is STAGES.get("embed")
    assert STAGES.after("finish") is None


def test_api_sends_the_first_registered_stage_to_its_queue() -> None:
    assert (STAGES.first.task_name, STAGES.first.queue) == (TASK_PREPARE, QUEUE_CPU)


def test_every_stage_runner_resolves_to_a_function() -> None:
    for stage in STAGES:
        assert callable(stage.load()), stage.name


def test_stage_registry_rejects_an_unknown_name_with_the_known_ones() -> None:
    with pytest.raises(UnknownName, match=r"unknown analysis stage 'tag'; known: prepare, infer"):
        STAGES.get("tag")


def test_stage_registry_rejects_a_stage_whose_inputs_no_earlier_stage_writes() -> None:
    registry = StageRegistry()

    with pytest.raises(ValueError, match=r"reads spool\.frames"):
        registry.add(Stage("infer", "gpu", "m:f", inputs=("spool.frames",), outputs=()))


def test_failure_policy_retries_transient_errors_with_backoff_then_gives_up() -> None:
    settings = Settings(tasks=TaskSettings(max_retries=3, retry_backoff_max_s=4))
    lost = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    first, later = failure_policy(lost, 0, settings), failure_policy(lost, 2, settings)
    final = failure_policy(lost, 3, settings)

    assert isinstance(first, RetryLater) and first.countdown == 1
    assert isinstance(later, RetryLater) and later.countdown == 4
    assert isinstance(final, str) and final.startswith("gave up after 3 retries")


def test_failure_policy_fails_at_once_when_error_is_not_transient() -> None:
    settings = Settings()

    assert failure_policy(ValueError("bad"), 0, settings) == "ValueError: bad"
    assert failure_policy(ModelMismatch("other weights"), 0, settings) == "other weights"


def test_job_progress_knows_every_registered_stage() -> None:
    # The API (no workers import) weighs a job's overall progress by its stage's place: a
    # stage it does not know reads as 0 %, so a job in "embed" or "scenes" went backwards.
    from app.api.schemas import STAGE_ORDER

    assert tuple(stage.name for stage in STAGES) == STAGE_ORDER
