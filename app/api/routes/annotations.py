"""Annotations: human masks and labels of a film's frames and shots, and their propagation
through a shot. Writes need a write token; each is recorded under the token's name."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from app.annotations import png as mask_png
from app.annotations import service as annotations_service
from app.annotations.schemas import FrameAnnotations, LabelIn, LabelVersion, MaskVersion
from app.api.deps import DispatcherDep, ReaderDep, SessionDep, SettingsDep, WriterDep
from app.api.params import AnalysisParam, FilmId, FrameIndex
from app.api.schemas import MAX_INT, JobOut
from app.core.errors import PayloadTooLargeError
from app.jobs import service as jobs_service
from app.jobs.dispatch import commit_and_enqueue

router = APIRouter(prefix="/films/{film_id}", tags=["annotations"])

RevertibleLayer = Literal["human", "propagated"]
ShotNumber = Annotated[int, Path(ge=1, le=MAX_INT, description="The shot's number, from 1.")]

PNG_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        "description": "A single-channel PNG (mode 1, L or P) of any size: 255 = P, 0 = NP.",
    }
}


async def _read_body(request: Request) -> bytes:
    """The request body, refused (413) past the mask size limit without reading it all."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > mask_png.MAX_BYTES:
            raise PayloadTooLargeError(f"a mask PNG may have at most {mask_png.MAX_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.put(
    "/frames/{frame_index}/mask",
    response_model=MaskVersion,
    openapi_extra=PNG_BODY,
    responses={
        413: {"description": "The PNG is larger than the limit."},
        422: {"description": "Not a PNG, not single-channel, unreadable, or too large a side."},
    },
)
async def put_frame_mask(
    film_id: FilmId,
    frame_index: FrameIndex,
    request: Request,
    token: WriterDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
) -> MaskVersion:
    """Store a person's P/NP mask of a sampled frame (resized to the frame). The model's mask
    is kept; this one takes precedence (human > propagated > model)."""
    body = await _read_body(request)
    return await run_in_threadpool(
        annotations_service.put_mask,
        session,
        film_id,
        frame_index,
        body,
        author=token.name,
        analysis_id=analysis_id,
    )


@router.delete("/frames/{frame_index}/mask", response_model=MaskVersion)
def revert_frame_mask(
    film_id: FilmId,
    frame_index: FrameIndex,
    token: WriterDep,
    session: SessionDep,
    source: Annotated[
        RevertibleLayer, Query(description="The layer to revert: human (default) or propagated.")
    ] = "human",
) -> MaskVersion:
    """Revert the frame's human (or propagated) mask: the next layer (propagated, else the
    model's) is in force again. Every version is kept; the answer is the version recording
    the revert."""
    return annotations_service.revert_mask(
        session, film_id, frame_index, author=token.name, source=source
    )


@router.get("/frames/{frame_index}/annotations", response_model=FrameAnnotations)
def frame_annotations(
    film_id: FilmId, frame_index: FrameIndex, _: ReaderDep, session: SessionDep
) -> FrameAnnotations:
    """Every version of the frame's masks and of the labels over it (who, when, which)."""
    return annotations_service.frame_annotations(session, film_id, frame_index)


@router.put("/frames/{frame_index}/label", response_model=LabelVersion)
def put_frame_label(
    film_id: FilmId,
    frame_index: FrameIndex,
    body: LabelIn,
    token: WriterDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
) -> LabelVersion:
    """A person's class (P, NP or hybrid) for one sampled frame."""
    return annotations_service.set_frame_label(
        session, film_id, frame_index, body.label, author=token.name, analysis_id=analysis_id
    )


@router.delete("/frames/{frame_index}/label", response_model=LabelVersion)
def revert_frame_label(
    film_id: FilmId,
    frame_index: FrameIndex,
    token: WriterDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
) -> LabelVersion:
    return annotations_service.set_frame_label(
        session, film_id, frame_index, None, author=token.name, analysis_id=analysis_id
    )


@router.put("/shots/{shot_number}/label", response_model=LabelVersion)
def put_shot_label(
    film_id: FilmId,
    shot_number: ShotNumber,
    body: LabelIn,
    token: WriterDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
) -> LabelVersion:
    """A person's label (P, NP or hybrid) for a whole shot (numbered from 1); its frames
    take it unless they carry a human mask or label of their own."""
    return annotations_service.set_shot_label(
        session, film_id, shot_number, body.label, author=token.name, analysis_id=analysis_id
    )


@router.delete("/shots/{shot_number}/label", response_model=LabelVersion)
def revert_shot_label(
    film_id: FilmId,
    shot_number: ShotNumber,
    token: WriterDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
) -> LabelVersion:
    return annotations_service.set_shot_label(
        session, film_id, shot_number, None, author=token.name, analysis_id=analysis_id
    )


@router.delete(
    "/shots/{shot_number}/propagated",
    response_model=list[MaskVersion],
    responses={409: {"description": "A propagation of the shot is still queued or running."}},
)
def revert_propagated_shot(
    film_id: FilmId,
    shot_number: ShotNumber,
    token: WriterDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
) -> list[MaskVersion]:
    """Revert every propagated mask in force on the shot's sampled frames (the model's mask,
    or a human one, is in force again); 404 when there is none. Versions are kept."""
    return annotations_service.revert_propagated_shot(
        session, film_id, shot_number, author=token.name, analysis_id=analysis_id
    )


@router.post(
    "/shots/{shot_number}/propagate",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "The shot has no human mask to spread."}},
)
def propagate_shot(
    film_id: FilmId,
    shot_number: ShotNumber,
    _: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    analysis_id: AnalysisParam = None,
) -> JobOut:
    """Spread the shot's human masks to its other sampled frames (a job on the gpu queue;
    follow it at ``GET /jobs/{id}``). The results are the frames' "propagated" masks."""
    job_id = annotations_service.start_propagation(
        session, film_id, shot_number, analysis_id=analysis_id
    )
    commit_and_enqueue(
        session, dispatcher, [job_id], settings.sqlalchemy_url, kind=jobs_service.KIND_PROPAGATE
    )
    return JobOut.of(jobs_service.get_job(session, job_id))
