"""ELAN: import a scholar's ``.eaf`` tier as the film's labels, and measure the analysis
against them. (The analysis goes back to ELAN as ``GET /films/{id}/export?format=eaf``.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool

from app.annotations import elan, elan_service
from app.annotations.schemas import ElanAgreement, ElanImport
from app.api.deps import ReaderDep, SessionDep, WriterDep
from app.api.params import AnalysisParam, FilmId
from app.core.errors import PayloadTooLargeError

router = APIRouter(prefix="/films/{film_id}/elan", tags=["annotations"])


@router.post(
    "",
    response_model=ElanImport,
    responses={
        413: {"description": "The file is larger than the limit."},
        422: {
            "description": "Not an ELAN document, no such tier, an empty tier, overlapping "
            "annotations, times past the film's end, or a bad mapping."
        },
    },
)
async def import_elan(
    film_id: FilmId,
    token: WriterDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="The .eaf document.")],
    tier: Annotated[str, Form(min_length=1, max_length=500, description="The tier to import.")],
    mapping: Annotated[
        list[str] | None,
        Form(
            alias="map",
            description="Overrides of the value mapping, each 'Value=P', 'Value=NP' or "
            "'Value=hybrid' (default: Animation=NP, Live-Action=P, Hybrid Image=hybrid; "
            "Still Image is not mapped).",
        ),
    ] = None,
) -> ElanImport:
    """Store the tier's annotations as the film's ELAN labels (human labels over time
    ranges), replacing those of the previous import. Unmapped values are reported."""
    data = await file.read(elan.MAX_BYTES + 1)
    if len(data) > elan.MAX_BYTES:
        raise PayloadTooLargeError(f"an ELAN file may have at most {elan.MAX_BYTES} bytes")
    return await run_in_threadpool(
        elan_service.import_eaf,
        session,
        film_id,
        data,
        tier=tier,
        mapping=mapping or [],
        author=token.name,
        filename=file.filename,
    )


@router.get(
    "/agreement",
    response_model=ElanAgreement,
    responses={409: {"description": "The film has no imported ELAN labels."}},
)
def elan_agreement(
    film_id: FilmId, _: ReaderDep, session: SessionDep, analysis_id: AnalysisParam = None
) -> ElanAgreement:
    """The analysis's classes (the model's) against the imported labels: per-class
    confusion by running time, in seconds."""
    return elan_service.agreement(session, film_id, analysis_id)
