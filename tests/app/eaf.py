"""Generated ELAN documents for the tests: tiers of (start ms, end ms, value) written as ELAN
writes them (TIME_ORDER of time slots, ALIGNABLE_ANNOTATIONs; REF_ANNOTATIONs for a tier
that depends on another)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

Annotation = tuple[int, int, str]


def eaf_document(
    tiers: Mapping[str, Sequence[Annotation]],
    *,
    dependent: Mapping[str, tuple[str, Sequence[str]]] | None = None,
) -> bytes:
    """An EAF 3.0 document. ``dependent`` maps a tier name to (its parent tier, one value per
    annotation of the parent): a symbolic-association tier of REF_ANNOTATIONs."""
    slots: list[str] = []
    body: list[str] = []
    ids: dict[str, list[str]] = {}
    counter = 0
    for tier, tier_annotations in tiers.items():
        body.append(f'  <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID={quoteattr(tier)}>')
        ids[tier] = []
        for start, end, value in tier_annotations:
            counter += 1
            first, second = f"ts{2 * counter - 1}", f"ts{2 * counter}"
            slots.append(f'    <TIME_SLOT TIME_SLOT_ID="{first}" TIME_VALUE="{start}"/>')
            slots.append(f'    <TIME_SLOT TIME_SLOT_ID="{second}" TIME_VALUE="{end}"/>')
            annotation_id = f"a{counter}"
            ids[tier].append(annotation_id)
            body.append(
                f'    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="{annotation_id}" '
                f'TIME_SLOT_REF1="{first}" TIME_SLOT_REF2="{second}">'
                f"<ANNOTATION_VALUE>{escape(value)}</ANNOTATION_VALUE>"
                "</ALIGNABLE_ANNOTATION></ANNOTATION>"
            )
        body.append("  </TIER>")
    for tier, (parent, values) in (dependent or {}).items():
        body.append(
            f'  <TIER LINGUISTIC_TYPE_REF="assoc" PARENT_REF={quoteattr(parent)} '
            f"TIER_ID={quoteattr(tier)}>"
        )
        for parent_id, value in zip(ids[parent], values, strict=True):
            counter += 1
            body.append(
                f'    <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="a{counter}" '
                f'ANNOTATION_REF="{parent_id}">'
                f"<ANNOTATION_VALUE>{escape(value)}</ANNOTATION_VALUE>"
                "</REF_ANNOTATION></ANNOTATION>"
            )
        body.append("  </TIER>")
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<ANNOTATION_DOCUMENT AUTHOR="test" DATE="2026-12-02T12:00:00+00:00" FORMAT="3.0" '
            'VERSION="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">',
            '  <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">',
            '    <MEDIA_DESCRIPTOR MEDIA_URL="file:///film.mp4" MIME_TYPE="video/mp4"/>',
            "  </HEADER>",
            "  <TIME_ORDER>",
            *slots,
            "  </TIME_ORDER>",
            *body,
            '  <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" '
            'TIME_ALIGNABLE="true"/>',
            '  <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" GRAPHIC_REFERENCES="false" '
            'LINGUISTIC_TYPE_ID="assoc" TIME_ALIGNABLE="false"/>',
            '  <CONSTRAINT DESCRIPTION="1-1 association with a parent annotation" '
            'STEREOTYPE="Symbolic_Association"/>',
            "</ANNOTATION_DOCUMENT>",
        ]
    )
    return text.encode("utf-8")
