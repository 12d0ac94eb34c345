"""Colour casts of faded and tinted prints, taken out before the models look."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.config import ModelSettings
from app.pipeline.colour import balance, colour_cast
from tests.figures import faded_print as _faded
from tests.figures import neutral_points as _neutral_points
from tests.figures import photo_background


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_a_frame_with_neutral_black_and_white_points_passes_unchanged() -> None:
    frame = _neutral_points(photo_background(1))
    assert balance(frame) is frame
    grey = np.repeat(_luma(photo_background(2))[:, :, None], 3, axis=2).astype(np.uint8)
    assert balance(grey) is grey


def test_a_tinted_print_comes_back_grey() -> None:
    luma = _luma(_neutral_points(photo_background(3)))
    tinted = np.clip(luma[:, :, None] * np.array([0.45, 0.62, 1.0]), 0, 255).astype(np.uint8)
    out = balance(tinted)
    spread = out.max(axis=2).astype(np.int16) - out.min(axis=2)
    assert spread.mean() < 4  # grey: the channels agree
    assert np.corrcoef(_luma(out).ravel(), luma.ravel())[0, 1] > 0.99


def test_a_faded_print_comes_back_near_the_original() -> None:
    original = _neutral_points(photo_background(4))
    faded = _faded(original)
    out = balance(faded)
    before = np.abs(faded.astype(np.int16) - original).mean()
    after = np.abs(out.astype(np.int16) - original).mean()
    assert after < 6 and after < before / 5


def test_a_card_of_one_colour_is_left_as_it_is() -> None:
    card = np.full((120, 160, 3), (20, 40, 200), np.uint8)
    assert np.array_equal(balance(card), card)
    assert not colour_cast(card)
    assert balance(np.zeros((0, 0, 3), np.uint8)).size == 0


def test_the_models_look_at_a_faded_frame_with_its_cast_taken_out() -> None:
    from workers.ml.inference import Classifier

    faded = [_faded(_neutral_points(photo_background(seed))) for seed in (5, 6)]
    balanced = [balance(frame) for frame in faded]
    assert all(b is not f for b, f in zip(balanced, faded, strict=True))
    on = Classifier.load(ModelSettings(device="cpu"))
    off = Classifier.load(ModelSettings(device="cpu", balance_colour=False))
    seen = on.classify(faded)
    as_balanced = off.classify(balanced)
    as_faded = off.classify(faded)
    for verdict, expected, other in zip(seen, as_balanced, as_faded, strict=True):
        assert verdict.p_fraction == pytest.approx(expected.p_fraction, abs=1e-6)
        assert verdict.frame_class is expected.frame_class
        # The cast moves what the models make of a frame: the setting made the two agree.
        moved = abs(verdict.raw_certainty - other.raw_certainty) + abs(
            verdict.p_fraction - other.p_fraction
        )
        assert moved > 1e-5


def test_a_dim_tinted_frame_is_stretched_at_most_max_gain() -> None:
    from app.pipeline.colour import MAX_GAIN

    luma = _luma(_neutral_points(photo_background(7))) * 0.3  # a dim night scene, 0-77
    tinted = np.clip(luma[:, :, None] * np.array([0.25, 0.6, 1.0]), 0, 255).astype(np.uint8)
    out = balance(tinted)
    red_in, red_out = tinted[:, :, 0].astype(np.float32), out[:, :, 0].astype(np.float32)
    gain = np.ptp(red_out) / np.ptp(red_in)
    assert 1.0 < gain <= MAX_GAIN + 0.1
    # Every channel's stretch is cut back alike: the tint still comes out neutral (grey).
    white = np.percentile(out.reshape(-1, 3), 99, axis=0)
    assert np.ptp(white) < 12


def test_anything_but_an_rgb_uint8_image_is_refused() -> None:
    for image in (
        np.zeros((20, 20), np.uint8),
        np.zeros((20, 20, 4), np.uint8),
        np.zeros((20, 20, 3), np.float32),
    ):
        with pytest.raises(ValueError, match="RGB uint8"):
            balance(image)


def test_a_faded_print_s_bars_are_found_with_its_cast_taken_out() -> None:
    """A faded print's black bars are faded too (dark magenta): the picture inside them is
    found on the frame with its cast taken out."""
    from app.pipeline.borders import picture_of

    frame = np.zeros((240, 320, 3), np.uint8)
    frame[30:210] = photo_background(8, (320, 180))
    faded = _faded(frame)
    assert picture_of(frame, ModelSettings()).as_list() == [0, 30, 320, 210]
    assert picture_of(faded, ModelSettings(balance_colour=False)).whole
    assert picture_of(faded, ModelSettings()).as_list() == [0, 30, 320, 210]
    assert picture_of(faded, ModelSettings(crop_borders=False)).whole


def test_the_segmenter_looks_at_a_faded_frame_with_its_cast_taken_out() -> None:
    from workers.ml.inference import Segmenter

    faded = [_faded(_neutral_points(photo_background(seed))) for seed in (9, 10)]
    on = Segmenter.load(ModelSettings(device="cpu"))
    off = Segmenter.load(ModelSettings(device="cpu", balance_colour=False))
    seen = on.segment(faded)
    expected = off.segment([balance(frame) for frame in faded])
    as_faded = off.segment(faded)
    for p_map, alone, other in zip(seen, expected, as_faded, strict=True):
        assert np.allclose(p_map, alone, atol=1e-5)
        assert not np.allclose(p_map, other, atol=1e-3)  # the setting made the two agree
    assert not on.shares_encoder_with(off)  # they see other inputs


def test_annotated_frames_are_trained_on_as_the_models_see_them() -> None:
    from workers.ml.annotation_data import MaskedFrames

    faded = _faded(_neutral_points(photo_background(11)))
    mask = np.ones(faded.shape[:2], np.uint8)
    frames = MaskedFrames([faded], [mask])
    trained_on = frames.as_proxy_set().images[0]
    assert np.array_equal(trained_on, balance(faded))
    assert frames.images[0] is faded  # scored by a segmenter that takes the cast out itself


def test_calibration_and_rates_are_measured_as_the_archive_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``train calibrate``, ``train rates`` and the fine-tuning score look at frames as the
    configured analyses do: an archive that keeps colour casts measures with them kept."""
    from app.core.config import configured_models, get_settings

    assert configured_models(device="cpu").balance_colour is True
    monkeypatch.setenv("HYBRIDLENS_MODEL__BALANCE_COLOUR", "false")
    monkeypatch.setenv("HYBRIDLENS_MODEL__SEGMENTER_PATH", "/somewhere/else")
    get_settings.cache_clear()
    settings = configured_models(device="cpu", cpu_threads=2)
    assert settings.balance_colour is False
    assert settings.segmenter_path is None  # the caller names the models it measures
    assert (settings.device, settings.cpu_threads) == ("cpu", 2)


def test_a_faded_shot_s_bars_are_found_for_propagation() -> None:
    from workers.ml.inference import Segmenter
    from workers.ml.propagation import _shot_picture

    frame = np.zeros((240, 320, 3), np.uint8)
    frame[30:210] = photo_background(12, (320, 180))
    shot = [_faded(frame)] * 3
    box = _shot_picture(shot, Segmenter.load(ModelSettings(device="cpu")))
    assert box is not None and box.as_list() == [0, 30, 320, 210]
    # The shot fades to black, as faded as the rest: that frame has no say in the bars.
    faded_black = _faded(np.zeros_like(frame))
    box = _shot_picture([*shot, faded_black], Segmenter.load(ModelSettings(device="cpu")))
    assert box is not None and box.as_list() == [0, 30, 320, 210]
    off = Segmenter.load(ModelSettings(device="cpu", balance_colour=False))
    assert _shot_picture(shot, off) is None
