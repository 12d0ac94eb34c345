"""Stage leases with real Celery workers: a worker SIGKILLed in ``prepare`` or in ``infer``
leaves a job that another worker resumes at that stage once the lease runs out (Redis's own
redelivery stays at an hour), finishing once with no duplicate rows; a stage that outlives
its lease on a healthy worker is never sent again. PostgreSQL and Redis are real."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import session_scope
from app.models import Analysis, Frame, Job, Shot
from tests.media import Segment, make_video
from tests.service_harness import Worker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# Many sampled frames, so that inference on one CPU thread outlasts the tests' 3 s lease.
DENSE_SAMPLING = {"HYBRIDLENS_PIPELINE__SAMPLING__MAX_INTERVAL_S": "0.04"}


def _long_film(tmp_path: Path) -> Path:
    # Big enough frames that decoding takes seconds (at 640x360 a quick machine decoded
    # them in under the second between progress writes, and the kill came too late).
    return make_video(
        tmp_path / "long.mkv",
        size=(1280, 720),
        segments=[Segment(source="testsrc2", frames=400), Segment(source="mandelbrot", frames=400)],
    ).path


def _upload(client: TestClient, path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = client.post("/films", files={"file": (path.name, handle)})
    assert response.status_code in (200, 201), response.text
    return response.json()


def _job_row(url: str, job_id: int) -> Job:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _progress(url: str, analysis_id: int | None) -> float:
    if analysis_id is None:
        return 0.0
    with session_scope(url) as session:
        return session.scalar(select(Analysis.progress).where(Analysis.id == analysis_id)) or 0.0


def _rows(url: str, film_id: int) -> dict[str, int]:
    with session_scope(url) as session:
        analyses = session.scalars(select(Analysis.id).where(Analysis.film_id == film_id)).all()
        frames = session.scalar(
            select(func.count()).select_from(Frame).where(Frame.analysis_id.in_(analyses))
        )
        distinct = session.scalar(
            select(func.count(func.distinct(Frame.frame_index))).where(
                Frame.analysis_id.in_(analyses)
            )
        )
        shots = session.scalar(
            select(func.count()).select_from(Shot).where(Shot.analysis_id.in_(analyses))
        )
        distinct_shots = session.scalar(
            select(func.count(func.distinct(Shot.shot_index))).where(Shot.analysis_id.in_(analyses))
        )
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.film_id == film_id))
    return {
        "analyses": len(analyses),
        "frames": frames or 0,
        "distinct_frames": distinct or 0,
        "shots": shots or 0,
        "distinct_shots": distinct_shots or 0,
        "jobs": jobs or 0,
    }


def _received(worker: Worker, stage: str) -> int:
    return len(
        re.findall(rf"Task hybridlens\.analysis\.{stage}\[[^\]]+\] received", worker.log_text())
    )


DEFAULT_LEASES = {
    "HYBRIDLENS_TASKS__LEASE_S": "30",
    "HYBRIDLENS_TASKS__HEARTBEAT_S": "10",
    "HYBRIDLENS_TASKS__REAPER_INTERVAL_S": "10",
}


def _kill_mid_stage_and_resume(
    stage: str,
    client: TestClient,
    start_worker: Callable[..., Worker],
    url: str,
    tmp_path: Path,
    env: dict[str, str],
) -> float:
    """SIGKILL the only worker mid-``stage``, start another, check the job ends once and
    well; returns the seconds from the new worker being ready to the stage being taken."""
    first = start_worker(env=env)
    film = _upload(client, _long_film(tmp_path))
    job_id = film["job_id"]

    def mid_stage() -> Job | None:
        job = _job_row(url, job_id)
        running = job.stage == stage and job.lease_owner is not None
        return job if running and _progress(url, job.analysis_id) > 0.0 else None

    held = wait_for(mid_stage, interval_s=0.05, what=f"the job to be mid-{stage}")
    first.kill()
    after_kill = _job_row(url, job_id)
    assert (after_kill.status.value, after_kill.stage) == ("running", stage)
    assert after_kill.lease_owner == held.lease_owner

    second = start_worker(env=env)
    ready_at = time.monotonic()
    wait_for(
        lambda: (job := _job_row(url, job_id)).requeues >= 1 and job.lease_owner is not None,
        interval_s=0.1,
        timeout_s=90,
        what="the stage to be taken again",
    )
    resumed_after_s = time.monotonic() - ready_at

    done = wait_for(
        lambda: (
            (job := _job_row(url, job_id)).status.value in ("done", "partial", "failed") and job
        ),
        timeout_s=180,
        what="the resumed job",
    )
    assert done.status.value == "done", done.error
    assert (done.requeues, done.attempts) == (1, 1)  # resumed at its stage, not started over
    assert done.stage is None and done.lease_owner is None
    rows = _rows(url, film["id"])
    assert rows["analyses"] == 1 and rows["jobs"] == 1
    assert rows["frames"] == rows["distinct_frames"] > 0
    shots = client.get(f"/films/{film['id']}/shots").json()
    assert rows["shots"] == rows["distinct_shots"] == len(shots)
    # The stages before the killed one finished and are never run again.
    if stage == "infer":
        assert _received(second, "prepare") == 0
    assert _received(second, stage) == 1 and _received(second, "finish") == 1
    return resumed_after_s


@pytest.mark.parametrize("stage", ["prepare", "infer"])
@pytest.mark.parametrize(
    ("leases", "within_s"),
    [
        # The tests' lease (3 s, reaped every 0.5 s), not Redis's hour.
        pytest.param({}, 3 + 0.5 + 2.0, id="test-leases"),
        # The defaults (30 s, reaped every 10 s): the target of a minute.
        pytest.param(DEFAULT_LEASES, 60.0, id="default-leases", marks=pytest.mark.slow),
    ],
)
def test_killed_worker_job_resumes_at_its_stage_when_the_lease_runs_out(
    stage: str,
    leases: dict[str, str],
    within_s: float,
    client: TestClient,
    start_worker: Callable[..., Worker],
    service_env: Settings,
    tmp_path: Path,
) -> None:
    env = {**DENSE_SAMPLING, **leases}
    resumed_after_s = _kill_mid_stage_and_resume(
        stage, client, start_worker, service_env.sqlalchemy_url, tmp_path, env
    )
    print(f"{stage}: resumed {resumed_after_s:.1f} s after a worker was ready")
    assert resumed_after_s < within_s


def test_stage_longer_than_its_lease_runs_once_while_its_worker_lives(
    client: TestClient,
    start_worker: Callable[..., Worker],
    service_env: Settings,
    tmp_path: Path,
) -> None:
    workers = [start_worker(env=DENSE_SAMPLING), start_worker(env=DENSE_SAMPLING)]
    film = _upload(client, _long_film(tmp_path))
    done = wait_for(
        lambda: (
            (job := _job_row(service_env.sqlalchemy_url, film["job_id"])).status.value
            in ("done", "partial", "failed")
            and job
        ),
        timeout_s=180,
        what="the job",
    )
    assert done.status.value == "done", done.error
    timings = client.get(f"/films/{film['id']}/stats").json()["timings"]
    # The test means something only if a stage outlived the lease (3 s).
    assert max(timings["prepare_s"], timings["infer_s"]) > service_env.tasks.lease_s
    assert done.requeues == 0
    for stage in ("prepare", "infer", "finish"):
        assert sum(_received(worker, stage) for worker in workers) == 1
