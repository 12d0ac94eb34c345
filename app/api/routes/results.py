"""A film's results: analyses, shots, frames, masks, overlays, statistics and timeline."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from app.analysis import overlay, thumbnails
from app.analysis import service as analysis_service
from app.analysis.schemas import AnalysisPublic, FramePublic, ShotPublic
from app.annotations import service as annotations_service
from app.annotations.schemas import MaskLayer
from app.api.deps import ReaderDep, SessionDep, SettingsDep
from app.api.params import AnalysisParam, FilmId, FrameIndex, check_page_size
from app.api.schemas import FilmStatsOut, FrameListParams, TimelineOut
from app.core.errors import NotFoundError
from app.core.pagination import Page
from app.scenes import service as scenes_service
from app.scenes.schemas import ScenePublic

router = APIRouter(prefix="/films/{film_id}", tags=["results"])

PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "A PNG image."}
}

JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "A JPEG image."}
}


class ThumbnailNotFound(NotFoundError):
    def __init__(self, film_id: int, frame_index: int) -> None:
        super().__init__(
            "thumbnail of frame",
            frame_index,
            f"frame {frame_index} of film {film_id} has no stored thumbnail",
        )


@router.get("/analyses", response_model=list[AnalysisPublic])
def list_analyses(film_id: FilmId, _: ReaderDep, session: SessionDep) -> list[AnalysisPublic]:
    """Every analysis of the film (one per model versions and settings), oldest first."""
    return analysis_service.list_analyses(session, film_id)


@router.get("/shots", response_model=list[ShotPublic])
def list_shots(
    film_id: FilmId, _: ReaderDep, session: SessionDep, analysis_id: AnalysisParam = None
) -> list[ShotPublic]:
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    return analysis_service.list_shots(session, chosen)


@router.get("/scenes", response_model=list[ScenePublic])
def list_scenes(
    film_id: FilmId, _: ReaderDep, session: SessionDep, analysis_id: AnalysisParam = None
) -> list[ScenePublic]:
    """The film's scenes (runs of consecutive shots), in order; empty for an analysis made
    before scenes were found."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    return scenes_service.list_scenes(session, chosen)


@router.get("/frames", response_model=Page[FramePublic])
def list_frames(
    film_id: FilmId,
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    params: Annotated[FrameListParams, Query()],
) -> Page[FramePublic]:
    """Sampled frames in time order, filtered by class, time range, P fraction or shot."""
    check_page_size(settings, params.limit)
    chosen = analysis_service.resolve_analysis_id(session, film_id, params.analysis_id)
    return analysis_service.list_frames(session, chosen, params.to_query())


@router.get(
    "/frames/{frame_index}/mask",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {}},
            "description": "A 1-bit PNG at the frame's size; X-Mask-Source names its layer.",
            "headers": {"X-Mask-Source": {"schema": {"type": "string"}}},
        }
    },
    response_model=None,
)
def frame_mask(
    film_id: FilmId,
    frame_index: FrameIndex,
    _: ReaderDep,
    session: SessionDep,
    analysis_id: AnalysisParam = None,
    source: Annotated[
        MaskLayer | None,
        Query(description="One layer (model, human, propagated); default: the effective one."),
    ] = None,
) -> Response:
    """The frame's P/NP mask at the frame's size, white where the picture is photographic:
    the effective one (human > propagated > model) or the layer asked for. The header
    ``X-Mask-Source`` names the layer served; 404 when there is none."""
    served = annotations_service.get_mask(
        session, film_id, frame_index, source=source, analysis_id=analysis_id
    )
    return Response(
        content=served.png, media_type="image/png", headers={"X-Mask-Source": served.source}
    )


@router.get(
    "/frames/{frame_index}/overlay", response_class=Response, responses=PNG, response_model=None
)
def frame_overlay(
    film_id: FilmId,
    frame_index: FrameIndex,
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    analysis_id: AnalysisParam = None,
    max_size: Annotated[int | None, Query(ge=16, le=8192)] = None,
) -> Response:
    """The frame (re-extracted from the film with ffmpeg) with its drawn (NP) part tinted."""
    png = overlay.frame_overlay(
        session, settings, film_id, frame_index, analysis_id=analysis_id, max_size=max_size
    )
    return Response(content=png, media_type="image/png")


@router.get(
    "/frames/{frame_index}/image", response_class=Response, responses=JPEG, response_model=None
)
def frame_image(
    film_id: FilmId,
    frame_index: FrameIndex,
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    analysis_id: AnalysisParam = None,
    max_size: Annotated[int | None, Query(ge=16, le=8192)] = None,
) -> Response:
    """The stored frame's picture (re-extracted from the film with ffmpeg), as a JPEG."""
    jpeg = overlay.frame_image(
        session, settings, film_id, frame_index, analysis_id=analysis_id, max_size=max_size
    )
    return Response(content=jpeg, media_type="image/jpeg")


@router.get(
    "/frames/{frame_index}/thumbnail",
    response_class=Response,
    responses={
        **JPEG,
        304: {"description": "The thumbnail the client holds (If-None-Match) is current."},
        404: {"description": "No stored thumbnail: ask .../image instead."},
    },
    response_model=None,
)
def frame_thumbnail(
    film_id: FilmId,
    frame_index: FrameIndex,
    request: Request,
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    analysis_id: AnalysisParam = None,
    overlay: Annotated[bool, Query(description="The frame with its drawn part tinted.")] = False,
) -> Response:
    """The frame's small JPEG (at most 320 px), stored when it was analysed: no ffmpeg on
    the way, cacheable (``ETag``, ``Cache-Control``). The overlay shows the mask in force: a
    person's or a propagated mask once there is one (then made from the stored picture), so
    it is revalidated on every use (``no-cache``; an unchanged one answers 304)."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    correction = (
        annotations_service.correction_in_force(session, film_id, frame_index) if overlay else None
    )
    if correction is not None:
        # A person's (or a propagated) mask is in force: the stored picture tinted by it,
        # not the model's overlay stored at analysis time.
        # The ETag names the mask version: a client holding it is answered before any
        # picture work.
        etag = thumbnails.corrected_overlay_etag(chosen, frame_index, correction[1])
        headers = {"ETag": etag, "Cache-Control": thumbnails.cache_control(overlay=True)}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        jpeg = thumbnails.corrected_overlay(settings.data_dir, chosen, frame_index, correction[0])
        if jpeg is None:
            raise ThumbnailNotFound(film_id, frame_index)
        return Response(content=jpeg, media_type="image/jpeg", headers=headers)
    stored = thumbnails.find(settings.data_dir, chosen, frame_index, overlay=overlay)
    if stored is None:
        raise ThumbnailNotFound(film_id, frame_index)
    headers = {"ETag": stored.etag, "Cache-Control": thumbnails.cache_control(overlay=overlay)}
    if stored.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return FileResponse(stored.path, media_type="image/jpeg", headers=headers)


@router.get("/stats", response_model=FilmStatsOut)
def film_stats(
    film_id: FilmId, _: ReaderDep, session: SessionDep, analysis_id: AnalysisParam = None
) -> FilmStatsOut:
    """The film's figures: hybrid ratio, P / NP / hybrid time shares, hybrid shots, ...,
    recomputed from the effective masks and labels when the film has annotations
    (``model_summary`` keeps the model's own), and the human-checked share of its time."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    analysis = analysis_service.get_analysis(session, chosen, with_timeline=False)
    figures = analysis_service.film_figures(session, chosen)
    summary = analysis.summary
    if figures is not None:
        summary = {**(analysis.summary or {}), **figures.summary}
    return FilmStatsOut(
        film_id=film_id,
        analysis_id=chosen,
        status=analysis.status,
        error=analysis.error,
        summary=summary,
        model_summary=analysis.summary,
        human_checked_s=figures.human_checked_s if figures is not None else 0.0,
        human_checked_share=(
            figures.human_checked_share
            if figures is not None
            else (0.0 if analysis.summary is not None else None)
        ),
        detector=analysis.detector,
        timings=analysis.timings,
    )


@router.get("/timeline", response_model=TimelineOut)
def film_timeline(
    film_id: FilmId, _: ReaderDep, session: SessionDep, analysis_id: AnalysisParam = None
) -> TimelineOut:
    """P / NP / hybrid shares over the film's running time, in bins."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    analysis = analysis_service.get_analysis(session, chosen, with_timeline=True)
    figures = analysis_service.film_figures(session, chosen)
    timeline: Any = getattr(analysis, "timeline", None)
    if figures is not None:  # with annotations: the bins of the effective classes
        timeline = [dataclasses.asdict(bin_) for bin_ in figures.timeline]
    return TimelineOut(
        film_id=film_id, analysis_id=chosen, status=analysis.status, timeline=timeline
    )
