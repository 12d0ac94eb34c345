"""The ``infer`` stage's work started inside ``prepare``, for a job whose stages all run in one
process (``hybridlens analyze``, the API's in-process mode): each sampled frame goes, as the
sampler picks it, to a thread that classifies it with this process's models while the film
still decodes (torch leaves the GIL in its kernels), and the chunk's results go to the spool
as ``infer`` would write them. ``infer`` then only waits for the last chunk.

The frames are classified in exactly the batches ``infer`` would make of each spool chunk and
the hybrids of a chunk segmented together, so the results are the same, byte for byte. Any
doubt (the models failed to load or differ from the analysis's, prepare stopped early, the
manifest does not match what was fed) and ``infer`` does its own work from the spool instead.
Memory stays bounded: the queue holds at most ``QUEUE_FRAMES`` frames, and ``prepare`` waits
when the models fall that far behind.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workers.stages.base import Meter, StageCall, check_models
from workers.stages.infer import INFER_TIMINGS, decide, infer_chunk
from workers.stages.spool import (
    FRAMES_PER_CHUNK,
    InferenceChunk,
    Manifest,
    Spool,
    SpoolFrame,
)
from workers.stages.store import AnalysisContext

if TYPE_CHECKING:
    from workers.ml.inference import FrameDecision, MaskVerdict

log = logging.getLogger(__name__)

# Two spool chunks: enough for the models to catch up in bursts, ~30 MB at 320x240.
QUEUE_FRAMES = 2 * FRAMES_PER_CHUNK + 2
# How long a waiting ``prepare`` looks up between tries, to notice that the thread has stopped.
PUT_POLL_S = 0.5


@dataclass(frozen=True)
class _Sampled:
    frame: SpoolFrame
    image: np.ndarray


_CHUNK_END = "chunk end"  # prepare wrote a spool chunk: its frames are the ones since the last


class EarlyInference:
    """Takes sampled frames from ``prepare`` (``add``, then ``close``) and runs the ``infer``
    stage's work on them on a thread of its own; ``wait`` gives ``infer`` the outcome."""

    def __init__(self, context: AnalysisContext, call: StageCall, spool: Spool) -> None:
        self._context = context
        self._call = call
        self._spool = spool
        self._queue: queue.Queue[_Sampled | str | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._stop = threading.Event()
        self._fed = 0
        self._closed = False
        self.timings = dict.fromkeys(INFER_TIMINGS, 0.0)
        self.segmented = 0
        self.frames_done = 0
        self.chunks_done = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"hybridlens-infer-{context.analysis_id}", daemon=True
        )
        self._thread.start()

    # -- the prepare side ---------------------------------------------------------------------

    def add(self, frame: SpoolFrame, image: np.ndarray) -> None:
        """The next sampled frame, in manifest order. Waits while the queue is full, unless
        the thread has stopped (the frame is dropped then: ``infer`` will redo the work)."""
        self._put(_Sampled(frame, image))
        self._fed += 1

    def end_chunk(self) -> None:
        """The frames added since the last chunk end make one spool chunk."""
        self._put(_CHUNK_END)

    def close(self) -> None:
        """Every frame has been added (and every chunk ended)."""
        self._closed = True
        self._put(None)

    def cancel(self) -> None:
        """Stop and forget the work (prepare or infer stopped, or infer redoes it); returns
        once the thread has finished what it was doing."""
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)  # wakes a thread waiting for frames
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _put(self, item: _Sampled | str | None) -> None:
        while self._thread.is_alive() and not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=PUT_POLL_S)
                return

    # -- the infer side -----------------------------------------------------------------------

    def wait(self, manifest: Manifest, meter: Meter) -> tuple[int, dict[str, float]] | None:
        """Wait for the last chunk; the number of frames segmented and the timings, or None
        (the thread stopped) when its results cannot stand for ``infer``'s."""
        if not self._closed or self._fed != len(manifest.frames):
            self.cancel()
            return None
        while self._thread.is_alive():
            self._thread.join(timeout=PUT_POLL_S)
            meter.update(self.frames_done)  # AnalysisStopped when cancelled meanwhile
        if self.error is not None:
            log.warning(
                "analysis %s: inference during prepare failed, infer runs it again: %s",
                self._context.analysis_id,
                self.error,
            )
            return None
        if self.frames_done != self._fed or self.chunks_done != manifest.chunk_count:
            return None
        return self.segmented, dict(self.timings)

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # handed to ``wait``; infer then does the work itself
            self.error = exc

    def _work(self) -> None:
        context = self._context
        models = self._call.loaded_models()  # waits for a ModelLoader's classifier
        check_models(context, models)
        batch_size = models.classifier.batch_size
        images: list[np.ndarray] = []
        frames: list[SpoolFrame] = []
        # Each batch classified; or, when one encoder run serves both models, decided (its
        # hybrids segmented from the same run), as ``infer`` decides it in the same batches.
        verdicts: list[MaskVerdict] = []
        decided: list[FrameDecision] = []
        shared = models.shared_encoder

        def done() -> int:
            return len(decided) if shared else len(verdicts)

        def classify_rest() -> None:
            first = done()
            if first >= len(images):
                return
            if shared:
                decided.extend(decide(models, images[first:], context, self.timings))
                return
            mark = time.perf_counter()
            verdicts.extend(models.classifier.classify(images[first:], context.thresholds))
            self.timings["classify_s"] += time.perf_counter() - mark

        def write_chunk() -> None:
            if not images:
                return
            classify_rest()
            results = infer_chunk(
                models,
                images,
                frames,
                context,
                self.timings,
                verdicts=None if shared else verdicts,
                decisions=decided if shared else None,
            )
            self._spool.write_results(self.chunks_done, InferenceChunk(frames=results))
            self.segmented += sum(result.segmented for result in results)
            self.frames_done += len(results)
            self.chunks_done += 1
            images.clear()
            frames.clear()
            verdicts.clear()
            decided.clear()

        while True:
            item = self._queue.get()
            if item is None or self._stop.is_set():
                break
            if item == _CHUNK_END:
                write_chunk()
                continue
            assert isinstance(item, _Sampled)
            images.append(item.image)
            frames.append(item.frame)
            # The batches ``infer`` makes of a chunk: batch_size frames from its start.
            if len(images) - done() >= batch_size:
                classify_rest()
