"""The one rule that combines a frame's layers into its effective mask and class.

Pure values in, pure values out: the API, the statistics, the exports and the CLI all call
``resolve_frame`` (through ``app.annotations.effective``), so they always agree.

Masks: human > propagated > model. Classes, most specific and most trusted first:

1. a human label on the frame itself;
2. the class of the frame's human mask;
3. a label on a span that holds the frame (a shot, or a time range): human before imported
   (``elan``), a narrower span before a wider one;
4. the class of the frame's propagated mask;
5. the model's class.

The effective P fraction is that of the effective mask when a person or propagation drew
it; a P or NP label without such a mask makes it 1 or 0; otherwise the model's stays.
A frame is *human-checked* when its class or its mask came from a person (or an imported
human label); propagated masks are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.core.domain import ClassThresholds, FrameClass


class MaskSource(StrEnum):
    """Where a mask comes from, most trusted first."""

    HUMAN = "human"
    PROPAGATED = "propagated"
    MODEL = "model"


class LabelSource(StrEnum):
    """Where a frame's or shot's class comes from, most trusted first."""

    HUMAN = "human"
    ELAN = "elan"
    PROPAGATED = "propagated"
    MODEL = "model"


MASK_ORDER = tuple(MaskSource)
LABEL_ORDER = tuple(LabelSource)
# Sources a person stands behind.
CHECKED_SOURCES = frozenset({LabelSource.HUMAN, LabelSource.ELAN})


@dataclass(frozen=True, slots=True)
class SpanLabel:
    """An active label over frames ``start_frame``..``end_frame`` (inclusive)."""

    scope: str  # "shot" or "range"
    start_frame: int
    end_frame: int
    label: FrameClass
    source: LabelSource

    def holds(self, frame_index: int) -> bool:
        return self.start_frame <= frame_index <= self.end_frame


@dataclass(frozen=True, slots=True)
class FrameLayers:
    """Everything known about one sampled frame."""

    frame_index: int
    model_class: FrameClass
    model_p_fraction: float
    model_has_mask: bool
    human_p_fraction: float | None = None  # the active human mask's P fraction, if any
    propagated_p_fraction: float | None = None
    human_label: FrameClass | None = None


@dataclass(frozen=True, slots=True)
class EffectiveFrame:
    frame_class: FrameClass
    p_fraction: float
    mask_source: MaskSource | None  # None: no layer has a mask for this frame
    label_source: LabelSource

    @property
    def human_checked(self) -> bool:
        return self.label_source in CHECKED_SOURCES or self.mask_source is MaskSource.HUMAN


def span_for(frame_index: int, spans: Sequence[SpanLabel]) -> SpanLabel | None:
    """The label that speaks for a frame among the spans holding it (see the module doc)."""
    holding = [span for span in spans if span.holds(frame_index)]
    if not holding:
        return None
    return min(
        holding,
        key=lambda s: (LABEL_ORDER.index(s.source), s.end_frame - s.start_frame, s.start_frame),
    )


def resolve_frame(
    layers: FrameLayers, spans: Sequence[SpanLabel], thresholds: ClassThresholds
) -> EffectiveFrame:
    mask_source: MaskSource | None
    if layers.human_p_fraction is not None:
        mask_source, mask_p = MaskSource.HUMAN, layers.human_p_fraction
    elif layers.propagated_p_fraction is not None:
        mask_source, mask_p = MaskSource.PROPAGATED, layers.propagated_p_fraction
    elif layers.model_has_mask:
        mask_source, mask_p = MaskSource.MODEL, layers.model_p_fraction
    else:
        mask_source, mask_p = None, layers.model_p_fraction
    drawn = mask_source in (MaskSource.HUMAN, MaskSource.PROPAGATED)

    span = span_for(layers.frame_index, spans)
    label: FrameClass
    label_source: LabelSource
    if layers.human_label is not None:
        label, label_source = layers.human_label, LabelSource.HUMAN
    elif mask_source is MaskSource.HUMAN:
        label, label_source = thresholds.classify(mask_p), LabelSource.HUMAN
    elif span is not None:
        label, label_source = span.label, span.source
    elif mask_source is MaskSource.PROPAGATED:
        label, label_source = thresholds.classify(mask_p), LabelSource.PROPAGATED
    else:
        label, label_source = layers.model_class, LabelSource.MODEL

    if drawn:
        p_fraction = mask_p
    elif label_source is not LabelSource.MODEL and label is FrameClass.P:
        p_fraction = 1.0
    elif label_source is not LabelSource.MODEL and label is FrameClass.NP:
        p_fraction = 0.0
    else:
        p_fraction = layers.model_p_fraction
    return EffectiveFrame(label, p_fraction, mask_source, label_source)


def most_trusted_mask(sources: Sequence[MaskSource | None]) -> MaskSource | None:
    present = [source for source in sources if source is not None]
    return min(present, key=MASK_ORDER.index) if present else None


def most_trusted_label(sources: Sequence[LabelSource]) -> LabelSource:
    return min(sources, key=LABEL_ORDER.index) if sources else LabelSource.MODEL
