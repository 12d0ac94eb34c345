"""Stage ``embed`` (gpu when there is one): one pooled embedding per sampled frame
(``workers.ml.embedding.FrameEmbedder``), left in the spool for ``scenes`` and ``finish``."""

from __future__ import annotations

import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from app.core.config import ModelSettings, get_settings
from app.core.domain import RunStatus
from workers.loading import MODEL_LOADING
from workers.stages.base import AnalysisStopped, Meter, StageCall, StageOutcome, inactive
from workers.stages.models import _threaded
from workers.stages.spool import EmbeddingsDone

if TYPE_CHECKING:
    from workers.ml.embedding import FrameEmbedder

EMBED = "embed"

_embedder: FrameEmbedder | None = None
_embedder_lock = threading.Lock()


def process_embedder(settings: ModelSettings) -> FrameEmbedder:
    """The embedder of this process, loaded on first use and kept (weights load once)."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            from workers.ml.embedding import FrameEmbedder

            with MODEL_LOADING:
                _embedder = FrameEmbedder.load(_threaded(settings))
        return _embedder


def embed_still(png: bytes) -> tuple[list[float], str]:
    """A still's embedding (the API decoded and checked it) and the embedder version: what
    ``POST /frames/similar`` searches with, in-process or through ``workers.tasks.still``."""
    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGB"))
    embedder = process_embedder(get_settings().model)
    vector = embedder.embed([pixels])[0]
    return [float(value) for value in vector], embedder.version


def embed(analysis_id: int, call: StageCall) -> StageOutcome:
    """Embed every spooled frame, in manifest order; a re-run replaces the vectors."""
    started = time.perf_counter()
    try:
        context = call.store.context(analysis_id, call.settings)
        if context is None or not context.active:
            return inactive(analysis_id, EMBED, context, started)
        spool = call.spool(analysis_id)
        manifest = spool.read_manifest()
        meter = Meter(analysis_id, EMBED, call)
        meter.begin(len(manifest.frames))
        embedder = process_embedder(call.settings.model)

        def embed_chunk(chunk: int) -> np.ndarray:
            return embedder.embed(list(spool.read_frames(chunk)))

        chunks: list[np.ndarray] = []
        done = 0
        pool = ThreadPoolExecutor(_workers(call, embedder), thread_name_prefix="hybridlens-embed")
        try:
            for vectors in pool.map(embed_chunk, range(manifest.chunk_count)):
                chunks.append(vectors)
                done += len(vectors)
                meter.update(done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        vectors = (
            np.concatenate(chunks) if chunks else np.zeros((0, embedder.dimension), np.float16)
        )
        if len(vectors) != len(manifest.frames):
            raise RuntimeError(
                f"spool of analysis {analysis_id} holds {len(vectors)} frames, its manifest "
                f"{len(manifest.frames)}"
            )
        spool.write_embeddings(
            vectors,
            EmbeddingsDone(
                version=embedder.version,
                frames=len(vectors),
                dimension=embedder.dimension,
                timings={"embed_s": time.perf_counter() - started},
            ),
        )
        meter.end()
    except AnalysisStopped:
        call.spool(analysis_id).remove()
        return inactive(analysis_id, EMBED, call.store.context(analysis_id, call.settings), started)
    return StageOutcome(analysis_id, EMBED, RunStatus.RUNNING, time.perf_counter() - started)


def _workers(call: StageCall, embedder: FrameEmbedder) -> int:
    """Chunks embedded at once. One, except on a CPU when every stage of the job runs in this
    process (``hybridlens analyze``, the API's in-process mode): nothing else of the job runs
    then, so each core (or group of ``cpu_threads``) takes chunks of its own. Threads that
    each run their own forward pass, not more threads inside one: torch's intra-op threads
    wait for each other at every layer, and on a shared 2-core machine two of them embedded
    1.2-3x slower than one while anything else ran (docs/results.md, issue 9)."""
    if call.early is None or embedder.device.type != "cpu":
        return 1
    import torch

    return max(1, len(os.sched_getaffinity(0)) // max(1, torch.get_num_threads()))
