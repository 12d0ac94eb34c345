"""Analysis of one film, end to end: the stages the service runs on its cpu and gpu queues,
and ``analyze_path`` that runs them in-process for the embedded mode.

Service use (ids cross the queue; see ``stages`` and ``spool`` for the details)::

    analysis_id = start(film_id, job_id=job_id)              # commits the analysis row
    outcome = prepare(analysis_id)                           # cpu: decode, spool frames
    if outcome.proceed: outcome = infer(analysis_id, models=MODELS)   # gpu: models
    if outcome.proceed: outcome = finish(analysis_id)        # cpu: stats, store, clean up

Embedded use::

    models = Models.load(settings.model)                     # once, for every film
    result = analyze_path("film.mp4", settings, models=models)
"""

from workers.analysis.embedded import AnalysisResult, analyze_path
from workers.analysis.spool import Spool, SpoolMissing
from workers.analysis.stages import (
    STAGES,
    AnalysisStopped,
    ModelMismatch,
    Models,
    ModelVersions,
    ProgressSink,
    StageOutcome,
    analysis_settings,
    fail_analysis,
    file_sha256,
    finish,
    infer,
    model_versions,
    prepare,
    start,
)

__all__ = [
    "STAGES",
    "AnalysisResult",
    "AnalysisStopped",
    "ModelMismatch",
    "ModelVersions",
    "Models",
    "ProgressSink",
    "Spool",
    "SpoolMissing",
    "StageOutcome",
    "analysis_settings",
    "analyze_path",
    "fail_analysis",
    "file_sha256",
    "finish",
    "infer",
    "model_versions",
    "prepare",
    "start",
]
