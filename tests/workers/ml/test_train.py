"""Training: losses go down, batches carry the right labels, runs resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hybridlens.cli import build_app
from tests.workers.ml.conftest import tiny_classifier_config, tiny_segmenter_config
from workers.ml.data import ImagePool
from workers.ml.models import build_classifier, build_segmenter, load_model
from workers.ml.train import (
    BatchMaker,
    ResumeMismatch,
    TrainConfig,
    _recipe,
    classifier_loss,
    patch_targets,
    segmenter_loss,
    source_weights,
    train_classifier,
)


def _fit_one_batch(model: torch.nn.Module, loss_fn, images, labels, steps: int = 8) -> list[float]:  # type: ignore[no-untyped-def]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model, images, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_classifier_training_steps_lower_the_loss(pools: tuple[ImagePool, ImagePool]) -> None:
    torch.manual_seed(0)
    batches = BatchMaker(pools, 32, TrainConfig(batch_size=8, composite_ratio=0.5, seed=1))
    images, labels = batches.batch()
    losses = _fit_one_batch(
        build_classifier(tiny_classifier_config()), classifier_loss, images, labels
    )
    assert losses[-1] < losses[0]


def test_segmenter_training_steps_lower_the_loss(pools: tuple[ImagePool, ImagePool]) -> None:
    torch.manual_seed(0)
    batches = BatchMaker(pools, 32, TrainConfig(batch_size=8, composite_ratio=0.7, seed=2))
    images, labels = batches.batch()
    losses = _fit_one_batch(
        build_segmenter(tiny_segmenter_config()), segmenter_loss, images, labels
    )
    assert losses[-1] < losses[0]


def test_homogeneous_batches_label_every_pixel_with_the_frame_class(
    pools: tuple[ImagePool, ImagePool],
) -> None:
    batches = BatchMaker(
        pools, 32, TrainConfig(batch_size=16, composite_ratio=0.0, degrade=False, seed=3)
    )
    _, labels = batches.batch()
    per_image = labels.view(16, -1)
    assert torch.all(per_image.min(dim=1).values == per_image.max(dim=1).values)


def test_source_balance_draws_small_sources_as_often_as_big_ones() -> None:
    # One big source of 90 images, two small ones of 5: 90 % of uniform draws hit the big one.
    sources = ["big"] * 90 + ["small"] * 5 + ["tiny"] * 5
    assert source_weights(sources, 0.0) is None
    even = source_weights(sources, 1.0)
    assert even is not None and np.isclose(even.sum(), 1.0)
    assert np.isclose(even[:90].sum(), 1 / 3) and np.isclose(even[90:95].sum(), 1 / 3)
    half = source_weights(sources, 0.5)
    assert half is not None and 1 / 3 < half[:90].sum() < 0.9

    # The batches follow the weights: images of each source are marked by their colour.
    colours = {"big": 10, "small": 128, "tiny": 250}
    pool = ImagePool([np.full((24, 24, 3), colours[s], np.uint8) for s in sources], sources)

    def share_of_big(balance: float) -> float:
        config = TrainConfig(composite_ratio=0.0, degrade=False, seed=4, source_balance=balance)
        batches = BatchMaker((pool, pool), 8, config)
        return float(np.mean([batches.sample()[0][4, 4, 0] == 10 for _ in range(600)]))

    assert share_of_big(0.0) > 0.85
    assert 0.25 < share_of_big(1.0) < 0.42


@pytest.mark.parametrize(
    ("command", "arguments", "message"),
    [
        ("classifier", ["--source-balance", "1.5"], "between 0 and 1"),
        ("segmenter", ["--source-balance", "-0.1"], "between 0 and 1"),
        ("classifier", ["--source-balance", "0.5", "--annotations"], "--repeat"),
        ("classifier", ["--drawn-renders", "1.2"], "between 0 and 1"),
        ("segmenter", ["--min-crop", "0.05"], "between 0.1 and 1"),
        ("classifier", ["--tone", "1.5"], "between 0 and 1"),
    ],
)
def test_train_refuses_sampling_settings_it_cannot_honour_before_reading_data(
    tmp_path: Path, command: str, arguments: list[str], message: str
) -> None:
    # The data folder does not exist: the refusal comes first, not a missing-data error.
    result = CliRunner().invoke(
        build_app(),
        ["train", command, "--data", str(tmp_path / "none"), "--out", str(tmp_path / "run"),
         *arguments],
    )  # fmt: skip

    assert result.exit_code != 0
    assert message in result.output


def test_drawn_renders_turn_photographs_into_np_draws() -> None:
    # Photographs are noise; the drawings are one flat grey that no render of noise gives.
    rng = np.random.default_rng(0)
    photos = ImagePool([rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)],
                       ["p"] * 4)  # fmt: skip
    drawings = ImagePool([np.full((48, 64, 3), 77, np.uint8)] * 4, ["d"] * 4)

    def flat_np_share(share: float) -> float:
        config = TrainConfig(composite_ratio=0.0, degrade=False, seed=5, drawn_renders=share)
        batches = BatchMaker((photos, drawings), 32, config)
        flat = []
        for _ in range(300):
            image, label = batches.sample()
            if label[0, 0] == 0:  # an NP draw
                flat.append(bool(np.all(image == 77)))
        return float(np.mean(flat))

    assert flat_np_share(0.0) == 1.0
    assert 0.35 < flat_np_share(0.6) < 0.5


def test_min_crop_one_keeps_the_whole_image() -> None:
    from workers.ml.composites import random_crop

    image = np.zeros((40, 40, 3), np.uint8)
    image[:20] = 255  # top half white
    rng = np.random.default_rng(1)
    crops = [random_crop(image, 40, 40, rng, min_crop=1.0) for _ in range(20)]
    # The whole height (the width is jittered): always half white.
    assert all(abs(float(c.mean()) / 255 - 0.5) < 0.03 for c in crops)
    close = [random_crop(image, 40, 40, rng, min_crop=0.2) for _ in range(200)]
    assert min(abs(float(c.mean()) / 255 - 0.5) for c in close) < 0.03
    assert max(abs(float(c.mean()) / 255 - 0.5) for c in close) > 0.45  # one colour only


def test_min_crop_reaches_the_homogeneous_training_crops() -> None:
    # Photographs white on the left, black on the right: whole crops are grey on average,
    # close-ups often one colour.
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32] = 255
    pool = ImagePool([image] * 3, ["a"] * 3)

    def one_colour_share(min_crop: float) -> float:
        config = TrainConfig(composite_ratio=0.0, degrade=False, seed=6, min_crop=min_crop)
        batches = BatchMaker((pool, pool), 32, config)
        means = [float(batches.sample()[0].mean()) / 255 for _ in range(200)]
        return float(np.mean([m < 0.05 or m > 0.95 for m in means]))

    assert one_colour_share(1.0) == 0.0
    assert one_colour_share(0.2) > 0.1


def test_tone_curves_reach_the_given_share_of_training_draws() -> None:
    # Every image is one mid-grey; degradations off, so only a tone curve changes a pixel.
    pool = ImagePool([np.full((48, 64, 3), 128, np.uint8)] * 4, ["a"] * 4)

    def toned_share(share: float) -> float:
        batches = BatchMaker((pool, pool), 32, TrainConfig(degrade=False, seed=7, tone=share))
        return float(np.mean([np.any(batches.sample()[0] != 128) for _ in range(300)]))

    assert toned_share(0.0) == 0.0
    assert 0.4 < toned_share(0.5) < 0.6


def test_training_settings_out_of_range_are_refused_by_the_config_too() -> None:
    with pytest.raises(ValueError, match="drawn_renders"):
        TrainConfig(drawn_renders=1.5)
    with pytest.raises(ValueError, match="min_crop"):
        TrainConfig(min_crop=0.0)
    with pytest.raises(ValueError, match="tone"):
        TrainConfig(tone=-0.1)


def test_patch_targets_average_the_mask_over_each_patch() -> None:
    labels = torch.zeros(1, 16, 16, dtype=torch.long)
    labels[0, :8, :4] = 1  # half of the top-left 8x8 patch is P
    share, weight = patch_targets(labels, 8)
    assert share.shape == (1, 2, 2)
    assert float(share[0, 0, 0]) == 0.5 and float(share[0, 1, 1]) == 0.0
    assert torch.all(weight == 1)


def test_training_resumes_to_the_same_weights_as_an_uninterrupted_run(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    config = TrainConfig(
        steps=4, batch_size=4, checkpoint_every=2, warmup_steps=1, seed=5, threads=1
    )
    train_classifier(pools, tiny_classifier_config(), config, tmp_path / "straight", progress=False)
    paused = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "resumed", progress=False, stop_after=2
    )
    assert paused.steps == 2 and not (tmp_path / "resumed" / "model").exists()
    train_classifier(pools, tiny_classifier_config(), config, tmp_path / "resumed", progress=False)
    straight = load_model(tmp_path / "straight" / "model", "classifier").state_dict()
    resumed = load_model(tmp_path / "resumed" / "model", "classifier").state_dict()
    for name, weights in straight.items():
        assert torch.equal(weights, resumed[name]), name


def test_resuming_with_other_settings_is_refused_and_other_threads_are_not(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    config = TrainConfig(steps=4, batch_size=4, checkpoint_every=2, warmup_steps=1, seed=5)
    run = tmp_path / "run"
    train_classifier(pools, tiny_classifier_config(), config, run, progress=False, stop_after=2)

    other = replace(config, source_balance=0.5)
    with pytest.raises(ResumeMismatch, match=r"source_balance: 0\.0 -> 0\.5"):
        train_classifier(pools, tiny_classifier_config(), other, run, progress=False)
    # Where it runs is not part of the recipe: the run resumes and finishes.
    finished = train_classifier(
        pools, tiny_classifier_config(), replace(config, threads=1), run, progress=False
    )
    assert finished.steps == 4 and (run / "model").exists()


def test_a_checkpoint_from_before_a_setting_existed_ran_at_its_default() -> None:
    from workers.ml.train import _check_same_recipe

    saved = _recipe(TrainConfig())
    del saved["drawn_renders"]  # a checkpoint made before the option existed
    _check_same_recipe(saved, _recipe(TrainConfig()), Path("run/checkpoint.pt"))
    with pytest.raises(ResumeMismatch, match=r"drawn_renders: 0\.0 -> 0\.25"):
        _check_same_recipe(
            saved, _recipe(TrainConfig(drawn_renders=0.25)), Path("run/checkpoint.pt")
        )


def _data_folder(root: Path, rng: np.random.Generator) -> Path:
    """Two generated photographs and two drawings, laid out as the train commands read them."""
    from PIL import Image

    from tests.workers.ml.conftest import drawing_like, photo_like

    for folder, make in (("photographic", photo_like), ("nonphotographic", drawing_like)):
        (root / folder).mkdir(parents=True)
        for index in range(2):
            Image.fromarray(make(rng)).save(root / folder / f"gen_{index}.png")
    return root


def test_train_command_names_the_settings_a_checkpoint_was_made_with(tmp_path: Path) -> None:
    _data_folder(tmp_path / "data", np.random.default_rng(2))
    run = tmp_path / "run"
    run.mkdir()
    # A checkpoint of a run at another learning rate (the check comes before its weights load).
    recipe = {**_recipe(TrainConfig()), "lr": 0.1}
    torch.save({"recipe": recipe}, run / "checkpoint.pt")

    result = CliRunner().invoke(
        build_app(),
        ["train", "classifier", "--data", str(tmp_path / "data"), "--out", str(run),
         "--cache", str(tmp_path / "cache"), "--steps", "2", "--batch-size", "2",
         "--lr", "2e-4", "--threads", "1", "--device", "cpu"],
    )  # fmt: skip

    assert result.exit_code != 0
    assert "lr: 0.1 -> 0.0002" in result.output and "--no-resume" in result.output
    assert not isinstance(result.exception, ResumeMismatch)  # a message, not a traceback


def test_training_is_reproducible_with_the_same_seed(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, seed=9, threads=1)
    first = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "a", resume=False, progress=False
    )
    second = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "b", resume=False, progress=False
    )
    assert np.allclose(first.losses, second.losses)


def test_training_can_start_from_saved_weights(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    config = TrainConfig(steps=1, batch_size=4, warmup_steps=1, seed=2, threads=1, lr=0.0)
    train_classifier(pools, tiny_classifier_config(), config, tmp_path / "base", progress=False)
    # With a zero learning rate, a fine-tuning run must keep the starting weights exactly.
    train_classifier(
        pools,
        tiny_classifier_config(hidden_size=64),
        config,
        tmp_path / "tuned",
        progress=False,
        init_from=tmp_path / "base" / "model",
    )
    base = load_model(tmp_path / "base" / "model", "classifier").state_dict()
    tuned = load_model(tmp_path / "tuned" / "model", "classifier").state_dict()
    assert all(torch.equal(base[name], tuned[name]) for name in base)


def test_fine_tuning_a_pretrained_lite_model_with_a_frozen_encoder_keeps_the_encoder(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    from workers.ml.models import ClassifierConfig, save_model

    base_dir = tmp_path / "base"
    save_model(
        build_classifier(ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32)),
        base_dir,
    )
    config = TrainConfig(
        steps=2, batch_size=4, warmup_steps=1, seed=2, threads=1, lr=1e-2, freeze_encoder=True
    )
    train_classifier(
        pools,
        ClassifierConfig(encoder="lite0"),  # ignored: the --init checkpoint's config wins
        config,
        tmp_path / "tuned",
        progress=False,
        init_from=base_dir,
    )
    base = load_model(base_dir, "classifier").state_dict()
    tuned = load_model(tmp_path / "tuned" / "model", "classifier").state_dict()
    encoder_names = [name for name in base if name.startswith("backbone.encoder.")]
    assert encoder_names and all(torch.equal(base[n], tuned[n]) for n in encoder_names)
    assert not torch.equal(base["backbone.project.weight"], tuned["backbone.project.weight"])


def test_frame_class_targets_follow_the_configured_rule() -> None:
    from app.core.config import ClassThresholds
    from workers.ml.train import IGNORE_LABEL, frame_class_targets

    labels = torch.zeros(4, 10, 10, dtype=torch.long)
    labels[1] = 1  # all P
    labels[2, :5] = 1  # half P: hybrid
    labels[3] = 1
    labels[3, 0, :5] = 0  # 5 % NP: P under min_area 0.08
    labels[3, 9] = IGNORE_LABEL  # unsure pixels do not count
    assert frame_class_targets(labels, ClassThresholds(min_area=0.08)).tolist() == [0, 2, 1, 2]
    # Exactly at the threshold the training target is what ClassThresholds.classify says.
    edge = torch.ones(2, 10, 10, dtype=torch.long)
    edge[0].view(-1)[:8] = 0  # P share 0.92 = 1 - min_area: P
    edge[1].view(-1)[8:] = 0  # P share 0.08 = min_area: NP
    assert frame_class_targets(edge, ClassThresholds(min_area=0.08)).tolist() == [2, 0]


def test_batches_from_worker_processes_train_and_repeat_for_the_same_worker_count(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    config = TrainConfig(steps=3, batch_size=4, warmup_steps=1, seed=9, threads=1, workers=2)
    first = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "a", resume=False, progress=False
    )
    second = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "b", resume=False, progress=False
    )
    assert first.steps == 3 and np.isfinite(first.losses).all()
    assert np.allclose(first.losses, second.losses)


def test_each_batch_worker_draws_its_own_stream(
    monkeypatch: pytest.MonkeyPatch, pools: tuple[ImagePool, ImagePool]
) -> None:
    from types import SimpleNamespace

    from workers.ml.train import _BatchStream

    def first_batch(worker: int, start_step: int = 0) -> np.ndarray:
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: SimpleNamespace(id=worker))
        maker = BatchMaker(pools, 32, TrainConfig(batch_size=2, seed=4))
        return next(iter(_BatchStream(maker, start_step)))[0]

    assert np.array_equal(first_batch(0), first_batch(0))
    assert not np.array_equal(first_batch(0), first_batch(1))  # no batch twice
    assert not np.array_equal(first_batch(0), first_batch(0, start_step=5))  # nor after a resume


def test_a_time_limit_stops_training_and_saves_the_model_with_the_steps_done(
    tmp_path: Path, pools: tuple[ImagePool, ImagePool]
) -> None:
    import json

    config = TrainConfig(
        steps=10_000, batch_size=2, warmup_steps=1, seed=3, threads=1, time_limit_s=1.0
    )
    result = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "run", progress=False
    )
    assert 0 < result.steps < 10_000
    record = json.loads((tmp_path / "run" / "training.json").read_text())
    assert record["steps"] == result.steps
    # The last step's checkpoint is written, so resuming finds the time spent and stops there.
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert checkpoint["step"] == result.steps and checkpoint["wall_s"] >= 1.0
    again = train_classifier(
        pools, tiny_classifier_config(), config, tmp_path / "run", progress=False
    )
    assert again.steps == result.steps


def test_with_a_time_limit_the_learning_rate_anneals_by_time_or_steps() -> None:
    from workers.ml.train import _lr_at

    config = TrainConfig(steps=1000, warmup_steps=10, lr=1.0, time_limit_s=100.0)
    by_steps = _lr_at(500, replace(config, time_limit_s=None))
    assert _lr_at(500, config, elapsed_s=0.0) == pytest.approx(by_steps)
    assert _lr_at(20, config, elapsed_s=50.0) == pytest.approx(0.5)
    assert _lr_at(20, config, elapsed_s=100.0) == pytest.approx(0.0)


@pytest.mark.parametrize("settings", [{"workers": -1}, {"time_limit_s": 0.0}])
def test_worker_counts_and_time_limits_out_of_range_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        TrainConfig(**settings)  # type: ignore[arg-type]


def test_train_segmenter_leaves_out_the_proxy_masks_of_held_out_sources(tmp_path: Path) -> None:
    from PIL import Image

    from tests.workers.ml.conftest import photo_like

    rng = np.random.default_rng(3)
    _data_folder(tmp_path / "data", rng)
    proxy = tmp_path / "proxy"
    for folder in ("masks", "images"):
        (proxy / folder).mkdir(parents=True)
    # One hybrid of a validation source, one of a calibration source, one of neither.
    for name in ("urban100_000", "dph_000", "gen_000"):
        Image.fromarray(np.full((32, 32), 255, np.uint8)).save(proxy / "masks" / f"{name}.png")
        Image.fromarray(photo_like(rng)).save(proxy / "images" / f"{name}.png")

    result = CliRunner().invoke(
        build_app(),
        ["train", "segmenter", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
         "--cache", str(tmp_path / "cache"), "--proxy", str(proxy), "--proxy-ratio", "0.5",
         "--steps", "1", "--batch-size", "2", "--image-size", "64", "--no-pretrained",
         "--threads", "1", "--device", "cpu"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert (
        "proxy masks: kept 1 of 3; left out 2 of validation or calibration sources "
        "(dph 1, urban100 1)" in result.output
    )

    # Nothing left to train on: said, not silently replaced by composites.
    (proxy / "masks" / "gen_000.png").unlink()
    again = CliRunner().invoke(
        build_app(),
        ["train", "segmenter", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run2"),
         "--cache", str(tmp_path / "cache"), "--proxy", str(proxy), "--proxy-ratio", "0.5"],
    )  # fmt: skip
    assert again.exit_code == 2
    assert "at least one image of a training source" in again.output
