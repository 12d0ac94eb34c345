"""Look-alike search: the stored frames most like a film's frame, or like an uploaded still."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from app.api.deps import DispatcherDep, ReaderDep, SessionDep, SettingsDep
from app.api.schemas import MAX_INT
from app.core.domain import FrameClass
from app.core.errors import PayloadTooLargeError
from app.embeddings import service as embeddings_service
from app.embeddings.schemas import MAX_K, SimilarFrame
from app.embeddings.stills import prepare_still

router = APIRouter(prefix="/frames", tags=["similar"])

K = Annotated[int, Query(ge=1, le=MAX_K, description="How many frames to return.")]
CollectionParam = Annotated[
    int | None, Query(ge=1, le=MAX_INT, description="Only frames of this collection's films.")
]
FrameClassParam = Annotated[
    FrameClass | None, Query(description="Only frames of this class (P, NP or hybrid).")
]


@router.get("/similar", response_model=list[SimilarFrame])
def similar_frames(
    _: ReaderDep,
    session: SessionDep,
    film_id: Annotated[int, Query(ge=1, le=MAX_INT, description="The query frame's film.")],
    frame_index: Annotated[
        int, Query(ge=0, le=MAX_INT, description="The query frame's number (a sampled frame).")
    ],
    k: K = 20,
    collection: CollectionParam = None,
    frame_class: FrameClassParam = None,
) -> list[SimilarFrame]:
    """The sampled frames of every film's current analysis most like this one (cosine
    similarity of their embeddings), best first, without the frame itself."""
    return embeddings_service.similar_to_frame(
        session,
        film_id,
        frame_index,
        k=k,
        collection_id=collection,
        frame_class=frame_class,
    )


@router.post("/similar", response_model=list[SimilarFrame])
def similar_to_still(
    _: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    file: Annotated[UploadFile, File(description="A still: JPEG, PNG, ...")],
    k: K = 20,
    collection: CollectionParam = None,
    frame_class: FrameClassParam = None,
) -> list[SimilarFrame]:
    """The sampled frames most like an uploaded still. The still is embedded where the models
    run (in this process in inline mode; by a gpu worker, waited for, in celery mode)."""
    limit = settings.api.still_max_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(f"a still may be at most {limit} bytes")
    embeddings_service.check_k(k)
    png = prepare_still(data)
    vector, version = dispatcher.embed_still(png, settings.api.still_timeout_s)
    return embeddings_service.similar_to_vector(
        session, vector, version, k=k, collection_id=collection, frame_class=frame_class
    )
