"""One settings object for the whole of hybridlens: CLI, API, workers and pipeline.

Every value can be set from the environment with the ``HYBRIDLENS_`` prefix and ``__`` for
nested groups (``HYBRIDLENS_MODEL__DEVICE=cuda``). The defaults give the embedded mode: a
SQLite file under the data directory and in-process work, no servers.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Re-exported: the domain values live in app.core.domain; workers.ml imports them from here.
from app.core.domain import FRAME_HEAD_THRESHOLDS, ClassThresholds, FrameClass

__all__ = [
    "FRAME_HEAD_THRESHOLDS",
    "ApiSettings",
    "ClassThresholds",
    "FrameClass",
    "ModelSettings",
    "PipelineSettings",
    "SamplingSettings",
    "SceneSettings",
    "Settings",
    "ShotSettings",
    "TaskSettings",
    "get_settings",
]


class ModelSettings(BaseModel):
    """Which weights to load and where to run them."""

    # "auto" picks CUDA when torch sees a GPU, else the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Half precision (bf16 where supported, else fp16) on CUDA only; the CPU always runs fp32.
    half_precision: bool = True
    # None = the default weights shipped inside the package.
    classifier_path: Path | None = None
    segmenter_path: Path | None = None
    batch_size: int = Field(default=16, ge=1, le=1024)
    cpu_threads: int | None = Field(default=None, ge=1)
    thresholds: ClassThresholds = ClassThresholds()
    # The models look at the picture inside black letterbox / pillarbox bars, and their maps
    # are stretched back over the bars (app/pipeline/borders.py).
    crop_borders: bool = True
    # The models look at the picture above burned-in subtitles at its bottom (light centred
    # lettering with an outline, shadow or box: app/pipeline/subtitles.py); their maps are
    # stretched over the subtitles' rows. Subtitles belong to the print, not to the film's
    # composition, and the models call lettering over a photograph hybrid.
    skip_subtitles: bool = True
    # The models look at each picture with its colour cast taken out when its black or white
    # point is coloured (a faded colour print, a tinted one: app/pipeline/colour.py).
    balance_colour: bool = True
    # Regions burned into every frame of the transfers that are not the film (a viewing
    # copy's timecode window, a logo): [left, top, right, bottom] as fractions of the frame.
    # The models look at the picture without them, cut at the side that keeps the most of it
    # (``PictureBox.without``); masks cover the strip cut off with the class of the
    # picture's edge beside it.
    burn_in_regions: list[tuple[float, float, float, float]] = Field(default_factory=list)

    @field_validator("burn_in_regions", mode="before")
    @classmethod
    def _one_region_alone(cls, value: object) -> object:
        # One region given without the outer list: [0.6, 0.85, 0.95, 0.95].
        if not isinstance(value, list | tuple) or len(value) != 4:
            return value
        return [value] if all(isinstance(x, int | float) for x in value) else value

    @field_validator("burn_in_regions")
    @classmethod
    def _regions_inside_the_frame(
        cls, regions: list[tuple[float, float, float, float]]
    ) -> list[tuple[float, float, float, float]]:
        for number, (left, top, right, bottom) in enumerate(regions, 1):
            if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
                raise ValueError(
                    f"burn-in region {number} must be [left, top, right, bottom], fractions of"
                    " the frame with left < right and top < bottom, not "
                    f"{[left, top, right, bottom]}"
                )
        return regions


class ShotSettings(BaseModel):
    # A name registered in app.pipeline.detectors ("adaptive", "content", "threshold", ...).
    # transnetv2 (PySceneDetect cuts + TransNetV2 + a wipe test) is the only one that meets
    # cut F1 0.98 and gradual F1 0.90 in bench/bench_transitions.py (docs/transitions.md);
    # "adaptive" is the fast, cuts-only choice on a CPU.
    detector: str = "transnetv2"
    adaptive_threshold: float = 3.0
    content_threshold: float = 27.0
    # Fades to/from black are found with a threshold detector alongside the cut detector.
    detect_fades: bool = True
    fade_threshold: float = 12.0
    min_shot_frames: int = Field(default=8, ge=1)
    # Frames are shrunk to at most this width before cut detection; cuts need no detail.
    # Half the default working width: an exact 2:1 shrink is cheap, and on bench_shots films
    # it found the same cuts (F1 1.000 hard cuts, 0.630 with fades/dissolves) as 256 did,
    # with decode + detection 30% faster.
    detect_width: int = Field(default=160, ge=32, le=4096)

    @field_validator("detector")
    @classmethod
    def _registered_detector(cls, name: str) -> str:
        from app.pipeline.detectors import DETECTORS  # the registry imports these settings

        DETECTORS.get(name)  # UnknownName (a ValueError) says which names there are
        return name


class SamplingSettings(BaseModel):
    """Which decoded frames get classified.

    Each shot gets at least ``min_per_shot`` frames and at most one frame every
    ``max_interval_s`` seconds; statistics weight each sampled frame by the running time it
    stands for, so sampling density never biases time shares.
    """

    min_per_shot: int = Field(default=1, ge=1)
    max_interval_s: float = Field(default=1.0, gt=0.0)
    skip_blank: bool = True
    # A frame whose luma standard deviation is below this (0-255 scale) counts as blank.
    blank_std: float = Field(default=4.0, ge=0.0)


class SceneSettings(BaseModel):
    """How shots are grouped into scenes (the ``scenes`` stage).

    ``detector`` names an entry of ``app.scenes.detectors``. A new scene starts at a shot
    whose representation (mean frame embedding, or mean repro-VAE latent) is farther than the
    detector's threshold from each of the last ``window`` shots of the current scene. The
    thresholds were chosen on tuning films in bench/bench_scenes.py.
    """

    detector: str = "embedding"
    window: int = Field(default=3, ge=1, le=50)
    # Cosine distance between mean shot embeddings.
    embedding_threshold: float = Field(default=0.49, gt=0.0, le=2.0)
    # Distance between mean standardised repro-VAE latents, per latent dimension (RMS).
    vae_threshold: float = Field(default=1.0, gt=0.0)
    vae_steps: int = Field(default=200, ge=1, le=100_000)
    vae_seed: int = 0

    @field_validator("detector")
    @classmethod
    def _registered_detector(cls, name: str) -> str:
        from app.scenes.detectors import SCENE_DETECTORS

        SCENE_DETECTORS.get(name)  # UnknownName (a ValueError) says which names there are
        return name


class PipelineSettings(BaseModel):
    # Frames are decoded scaled so that the longer side is at most this many pixels.
    working_size: int = Field(default=320, ge=32, le=4096)
    # A film whose picture is smaller than this many pixels on either side fails with that
    # reason: there is nothing in it to classify (a 1x1 "video" is not a 0 % film).
    min_size: int = Field(default=16, ge=1, le=4096)
    # Stored masks: longer side in pixels (1-bit PNG).
    mask_size: int = Field(default=160, ge=8, le=2048)
    # Coarse grid (rows x cols) of NP share stored per frame.
    grid_rows: int = Field(default=4, ge=1, le=32)
    grid_cols: int = Field(default=4, ge=1, le=32)
    # Segment only hybrid frames (the SegFormer is the costly stage) unless this is set. With
    # it, a frame the classifier calls P or NP takes the segmenter's verdict (class, mask):
    # a diagnostic mode whose hybrid ratios are the segmenter's, not the cascade's.
    segment_all: bool = False
    # Whether the segmenter may turn a frame the classifier calls hybrid into P or NP. Off by
    # measurement (bench/bench_decision.py, cross-validated on the calibration sources): the
    # segmenter misses small drawn or photographic areas the frame head finds, and overruling
    # cost more composite frames than it saved homogeneous ones.
    segmenter_overrules: bool = False
    shots: ShotSettings = ShotSettings()
    sampling: SamplingSettings = SamplingSettings()
    scenes: SceneSettings = SceneSettings()


class ApiSettings(BaseModel):
    max_upload_bytes: int = Field(default=50 * 1024**3, ge=1)
    # Files may be registered in place only below this root (None disables registration).
    storage_root: Path | None = None
    page_size_max: int = Field(default=500, ge=1)
    # A token the database accepted is trusted this long without another look-up, so a
    # revoked or deleted token stops working within this many seconds (0: look up always).
    token_cache_s: float = Field(default=5.0, ge=0.0, le=60.0)
    # Overlay images are re-extracted from the film with ffmpeg; longer side at most this.
    overlay_max_size: int = Field(default=1280, ge=16, le=8192)
    ffmpeg_timeout_s: float = Field(default=30.0, gt=0.0)
    # Upload parts (media/incoming/*.part) not written to for this long are left by a killed
    # API process; they are deleted at start-up and every ``part_sweep_interval_s``.
    stale_part_age_s: float = Field(default=3600.0, gt=0.0)
    part_sweep_interval_s: float = Field(default=600.0, gt=0.0)
    # A still sent to POST /frames/similar: its size limit, and how long the API waits for
    # its embedding (from a gpu worker in celery mode) before answering 503.
    still_max_bytes: int = Field(default=20 * 1024**2, ge=1)
    still_timeout_s: float = Field(default=30.0, gt=0.0)


class TaskSettings(BaseModel):
    """Where analyses run: in the API process (``inline``) or on Celery workers (``celery``).

    ``auto`` picks ``celery`` when ``HYBRIDLENS_REDIS_URL`` is set and ``inline`` otherwise,
    so the embedded default needs no servers.
    """

    mode: Literal["auto", "inline", "celery"] = "auto"
    # Redis redelivers a task whose worker vanished (SIGKILL, lost host) after this many
    # seconds. Only a backstop: a stage's lease (below) finds a dead worker far sooner, and a
    # redelivered stage that another worker holds, or that has finished, is not run again.
    visibility_timeout_s: int = Field(default=3600, ge=1)
    # A running stage renews its lease in the jobs table every ``heartbeat_s``; a lease not
    # renewed for ``lease_s`` means its worker died, and a reaper in every worker (looking
    # every ``reaper_interval_s``) sends the stage again: a killed worker's film resumes at
    # most lease_s + reaper_interval_s (40 s) after the kill once a worker is up.
    lease_s: float = Field(default=30.0, gt=0.0)
    heartbeat_s: float = Field(default=10.0, gt=0.0)
    reaper_interval_s: float = Field(default=10.0, gt=0.0)
    # Transient errors (database or broker unreachable) are retried this often, with backoff.
    max_retries: int = Field(default=5, ge=0)
    retry_backoff_max_s: int = Field(default=120, ge=1)
    # What inline mode calls with a job id; resolved by name so the API never imports workers.
    inline_runner: str = "workers.tasks.inline:run_job"
    # What embeds a still in inline mode (in celery mode: the task ``TASK_EMBED_STILL``).
    still_embedder: str = "workers.stages.embed:embed_still"

    @model_validator(mode="after")
    def _heartbeats_within_lease(self) -> TaskSettings:
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError("tasks.heartbeat_s must be at most half of tasks.lease_s")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HYBRIDLENS_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    # None = SQLite file under data_dir (the embedded default).
    database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"

    model: ModelSettings = ModelSettings()
    pipeline: PipelineSettings = PipelineSettings()
    api: ApiSettings = ApiSettings()
    tasks: TaskSettings = TaskSettings()

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hybridlens.sqlite3').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def task_mode(self) -> Literal["inline", "celery"]:
        if self.tasks.mode != "auto":
            return self.tasks.mode
        return "celery" if "redis_url" in self.model_fields_set else "inline"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def configured_models(**update: Any) -> ModelSettings:
    """The configured model settings (environment, ``.env``) with ``update``, the model
    directories left to the caller (None: the shipped ones): what an archive's analyses look
    at (bars, subtitles, burned-in regions, colour casts) is what its calibration and rates
    are measured on."""
    return get_settings().model.model_copy(
        update={"classifier_path": None, "segmenter_path": None, **update}
    )
