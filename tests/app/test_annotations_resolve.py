"""The one rule that combines a frame's layers: masks human > propagated > model; classes
from the most specific, most trusted source."""

from __future__ import annotations

from app.annotations.resolve import (
    FrameLayers,
    LabelSource,
    MaskSource,
    SpanLabel,
    resolve_frame,
    span_for,
)
from app.core.domain import ClassThresholds, FrameClass

RULE = ClassThresholds()


def layers(**changes: object) -> FrameLayers:
    values: dict[str, object] = {
        "frame_index": 10,
        "model_class": FrameClass.HYBRID,
        "model_p_fraction": 0.5,
        "model_has_mask": True,
    }
    values.update(changes)
    return FrameLayers(**values)  # type: ignore[arg-type]


def span(label: FrameClass, source: LabelSource, start: int = 0, end: int = 20) -> SpanLabel:
    return SpanLabel("shot", start, end, label, source)


def test_model_answer_stands_without_annotations() -> None:
    frame = resolve_frame(layers(), [], RULE)
    assert (frame.frame_class, frame.mask_source, frame.label_source) == (
        FrameClass.HYBRID,
        MaskSource.MODEL,
        LabelSource.MODEL,
    )
    assert not frame.human_checked
    assert resolve_frame(layers(model_has_mask=False), [], RULE).mask_source is None


def test_human_mask_beats_propagated_which_beats_model() -> None:
    propagated = resolve_frame(layers(propagated_p_fraction=1.0), [], RULE)
    assert (propagated.mask_source, propagated.frame_class, propagated.p_fraction) == (
        MaskSource.PROPAGATED,
        FrameClass.P,
        1.0,
    )
    assert not propagated.human_checked
    human = resolve_frame(layers(propagated_p_fraction=1.0, human_p_fraction=0.0), [], RULE)
    assert (human.mask_source, human.frame_class, human.label_source) == (
        MaskSource.HUMAN,
        FrameClass.NP,
        LabelSource.HUMAN,
    )
    assert human.human_checked


def test_a_span_label_beats_propagation_but_not_a_human_mask_or_frame_label() -> None:
    shot_np = [span(FrameClass.NP, LabelSource.HUMAN)]
    over_propagated = resolve_frame(layers(propagated_p_fraction=1.0), shot_np, RULE)
    assert (over_propagated.frame_class, over_propagated.label_source) == (
        FrameClass.NP,
        LabelSource.HUMAN,
    )
    # The mask served is still the propagated one; the class and P fraction follow it.
    assert over_propagated.mask_source is MaskSource.PROPAGATED
    under_human = resolve_frame(layers(human_p_fraction=0.5), shot_np, RULE)
    assert under_human.frame_class is FrameClass.HYBRID
    own_label = resolve_frame(layers(human_label=FrameClass.P), shot_np, RULE)
    assert (own_label.frame_class, own_label.p_fraction) == (FrameClass.P, 1.0)


def test_human_spans_beat_imported_ones_and_narrow_beat_wide() -> None:
    wide_human = span(FrameClass.P, LabelSource.HUMAN, 0, 100)
    narrow_elan = span(FrameClass.NP, LabelSource.ELAN, 5, 15)
    narrow_human = span(FrameClass.HYBRID, LabelSource.HUMAN, 8, 12)
    assert span_for(10, [narrow_elan, wide_human]) is wide_human
    assert span_for(10, [wide_human, narrow_human, narrow_elan]) is narrow_human
    assert span_for(50, [narrow_elan]) is None
    elan = resolve_frame(layers(), [narrow_elan], RULE)
    assert (elan.label_source, elan.human_checked, elan.p_fraction) == (
        LabelSource.ELAN,
        True,
        0.0,
    )
