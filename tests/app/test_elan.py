"""ELAN import, agreement and export on a generated film and generated .eaf files."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.analysis.schemas import FrameQuery
from app.annotations import elan, elan_service, training
from app.annotations import service as annotations_service
from app.annotations.schemas import ElanImport
from app.core.domain import FrameClass
from app.exports.registry import ExportTarget, export_film
from tests.app.eaf import eaf_document
from tests.app.factories import make_analysis, make_film

# make_analysis(frames=9, shots=3): frames 0, 25, ... 200 at 0 s, 1 s, ... 8 s, each standing
# for one second, classes cycling P, hybrid, NP; shots of 3 s.
IMAGE_TYPE = [
    (0, 3000, "Live-Action"),
    (3000, 6000, "Animation"),
    (6000, 8000, "Hybrid Image"),
    (8000, 9000, "Still Image"),
    (9000, 10000, ""),
]


@pytest.fixture
def film(session: Session) -> int:
    film_id = make_film(session, title="Scholar's reel", duration_s=60.0)
    make_analysis(session, film_id=film_id, frames=9, shots=3, hybrid_ratio=1 / 3)
    return film_id


def import_tier(session: Session, film: int, data: bytes, tier: str, *mapping: str) -> ElanImport:
    return elan_service.import_eaf(
        session, film, data, tier=tier, mapping=mapping, author="scholar", filename="reel.eaf"
    )


def elan_labels(session: Session, film: int) -> list[tuple[int, int, str | None]]:
    return [
        (label.start_frame, label.end_frame, label.label and label.label.value)
        for label in annotations_service.active_labels(session, film)
        if label.source == "elan"
    ]


def test_import_stores_mapped_ranges_and_reports_unmapped_values(
    session: Session, film: int
) -> None:
    report = import_tier(session, film, eaf_document({"Image Type": IMAGE_TYPE}), "Image Type")

    assert [(r.start_frame, r.end_frame, r.label) for r in report.imported] == [
        (0, 74, FrameClass.P),
        (75, 149, FrameClass.NP),
        (150, 199, FrameClass.HYBRID),
    ]
    assert {(s.value, s.count, s.duration_s) for s in report.skipped} == {
        ("Still Image", 1, 1.0),
        ("(empty)", 1, 1.0),
    }
    assert elan_labels(session, film) == [(0, 74, "P"), (75, 149, "NP"), (150, 199, "hybrid")]
    frames = {
        f.frame_index: f
        for f in analysis_service.list_frames(
            session, analysis_service.resolve_analysis_id(session, film), _all()
        ).items
    }
    assert (frames[25].frame_class, frames[25].label_source) == (FrameClass.P, "elan")
    assert frames[200].label_source == "model"


def _all() -> FrameQuery:
    return FrameQuery(limit=100)


def test_import_mapping_override_maps_still_images(session: Session, film: int) -> None:
    report = import_tier(
        session, film, eaf_document({"Image Type": IMAGE_TYPE}), "Image Type", "still image=NP"
    )

    assert report.imported[-1].label is FrameClass.NP
    assert [s.value for s in report.skipped] == ["(empty)"]


def test_reimport_replaces_the_previous_import(session: Session, film: int) -> None:
    import_tier(session, film, eaf_document({"Image Type": IMAGE_TYPE}), "Image Type")
    again = import_tier(
        session, film, eaf_document({"Other": [(3000, 6000, "Live Action")]}), "Other"
    )

    assert again.replaced == 3
    assert elan_labels(session, film) == [(75, 149, "P")]
    history = annotations_service.frame_annotations(session, film, 100).labels
    assert [(h.version, h.label) for h in history] == [
        (1, FrameClass.NP),
        (2, None),
        (3, FrameClass.P),
    ]


@pytest.mark.parametrize(
    ("tiers", "tier", "message"),
    [
        ({"Image Type": IMAGE_TYPE, "Empty": []}, "Empty", "tier 'Empty' has no annotations"),
        (
            {"Overlapping": [(0, 3000, "Animation"), (2000, 4000, "Live-Action")]},
            "Overlapping",
            "annotations overlap",
        ),
        ({"Image Type": IMAGE_TYPE}, "Shot Type", "no tier 'Shot Type' .*'Image Type'"),
        ({"Late": [(59_000, 75_000, "Animation")]}, "Late", "ends after the film"),
        ({"Odd": [(0, 1000, "Title card")]}, "Odd", "no value .* maps .*'Title card'"),
    ],
)
def test_import_refuses_a_tier_that_cannot_stand_as_labels(
    session: Session,
    film: int,
    tiers: dict[str, list[tuple[int, int, str]]],
    tier: str,
    message: str,
) -> None:
    import_tier(session, film, eaf_document({"Image Type": IMAGE_TYPE}), "Image Type")

    with pytest.raises(elan.BadEafFile, match=message):
        import_tier(session, film, eaf_document(tiers), tier)

    # The previous import stands.
    assert len(elan_labels(session, film)) == 3


@pytest.mark.parametrize(
    "data",
    [
        b"not xml at all",
        b"<ANNOTATION_DOCUMENT><TIER",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ANNOTATION_DOCUMENT/>',
        b"\x89PNG\r\n\x1a\n",
    ],
)
def test_import_refuses_what_is_not_an_elan_document(
    session: Session, film: int, data: bytes
) -> None:
    with pytest.raises(elan.BadEafFile, match="ELAN document"):
        import_tier(session, film, data, "Image Type")


def test_import_refuses_a_bad_mapping(session: Session, film: int) -> None:
    with pytest.raises(elan.BadEafFile, match="'Still Image=photo'"):
        import_tier(session, film, eaf_document({"T": IMAGE_TYPE}), "T", "Still Image=photo")


def test_a_dependent_tier_takes_its_parents_times(session: Session, film: int) -> None:
    document = eaf_document(
        {"Sequences": [(0, 2000, "seq 1"), (2000, 5000, "seq 2")]},
        dependent={"Image Type": ("Sequences", ["Animation", "Hybrid Image"])},
    )

    report = import_tier(session, film, document, "Image Type")

    assert [(r.start_time, r.end_time, r.label) for r in report.imported] == [
        (0.0, 2.0, FrameClass.NP),
        (2.0, 5.0, FrameClass.HYBRID),
    ]


def test_a_tier_with_a_circular_parent_is_refused(session: Session, film: int) -> None:
    document = eaf_document(
        {"A": [(0, 1000, "Animation")]}, dependent={"B": ("A", ["Animation"])}
    ).replace(b'TIER_ID="A"', b'PARENT_REF="B" TIER_ID="A"')

    with pytest.raises(elan.BadEafFile, match="circular"):
        import_tier(session, film, document, "B")


def test_agreement_is_the_confusion_by_running_time(session: Session, film: int) -> None:
    tier = [*IMAGE_TYPE[:3], (20_000, 21_000, "Animation")]
    import_tier(session, film, eaf_document({"Image Type": tier}), "Image Type")

    result = elan_service.agreement(session, film)

    # Model: 0 s P, 1 s hybrid, 2 s NP, 3 s P, ...; ELAN: P 0-3 s, NP 3-6 s, hybrid 6-8 s.
    assert result.confusion == {
        "P": {"P": 1.0, "NP": 1.0, "hybrid": 1.0},
        "NP": {"P": 1.0, "NP": 1.0, "hybrid": 1.0},
        "hybrid": {"P": 1.0, "NP": 0.0, "hybrid": 1.0},
    }
    assert (result.labelled_s, result.compared_s, result.unclassified_s) == (9.0, 8.0, 1.0)
    assert result.agreement == pytest.approx(3 / 8)
    hybrid = next(item for item in result.classes if item.label is FrameClass.HYBRID)
    assert (hybrid.recall, hybrid.precision) == (pytest.approx(1 / 2), pytest.approx(1 / 3))


def test_agreement_without_an_import_is_a_conflict(session: Session, film: int) -> None:
    with pytest.raises(elan_service.NoElanLabels):
        elan_service.agreement(session, film)


def test_imported_labels_reach_fine_tuning(session: Session, film: int) -> None:
    import_tier(session, film, eaf_document({"Image Type": IMAGE_TYPE}), "Image Type")

    frames = training.labelled_frames(session, [film])

    assert [(f.frame_index, f.source, f.label) for f in frames] == [
        (0, "elan", FrameClass.P),
        (25, "elan", FrameClass.P),
        (50, "elan", FrameClass.P),
        (75, "elan", FrameClass.NP),
        (100, "elan", FrameClass.NP),
        (125, "elan", FrameClass.NP),
        (150, "elan", FrameClass.HYBRID),
        (175, "elan", FrameClass.HYBRID),
    ]


def test_eaf_export_reads_back_and_agrees_with_itself(session: Session, film: int) -> None:
    report = analysis_service.get_film_report(session, film)
    body = export_film(report, "eaf", ExportTarget(film_id=film)).body

    assert 'MEDIA_URL="http://127.0.0.1:8000/films/' in body
    assert 'MIME_TYPE="video/mp4"' in body and 'TIME_UNITS="milliseconds"' in body
    document = elan.read_eaf(body.encode())
    assert document.annotations("hybridlens shots") == [
        elan.EafAnnotation(0, 3000, "Hybrid Image"),
        elan.EafAnnotation(3000, 6000, "Hybrid Image"),
        elan.EafAnnotation(6000, 9000, "Hybrid Image"),
    ]
    frames = document.annotations("hybridlens frames")
    assert [a.value for a in frames[:3]] == ["Live-Action", "Hybrid Image", "Animation"]
    assert (frames[0].start_ms, frames[-1].end_ms, len(frames)) == (0, 9000, 9)

    import_tier(session, film, body.encode(), "hybridlens frames")
    assert elan_service.agreement(session, film).agreement == 1.0


def test_import_refuses_entities_declared_in_another_encoding() -> None:
    # In UTF-16 a DOCTYPE is not the bytes b"<!DOCTYPE"; the bytes the first check looks for
    # hide in a comment as CJK characters. The parser must never expand the entity.
    document = eaf_document({"Image Type": [(0, 1000, "&e;")]}).decode().replace("&amp;", "&")
    hidden = b"<ANNOTATION_DOCUMENT".decode("utf-16-le")
    document = document.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<!DOCTYPE ANNOTATION_DOCUMENT [<!ENTITY e "Animation">]><!--{hidden}-->',
    )

    with pytest.raises(elan.BadEafFile, match="DOCTYPE"):
        elan.read_eaf(document.encode("utf-16-le"))


def test_an_annotation_wholly_past_the_films_end_labels_nothing(
    session: Session, film: int
) -> None:
    # Within the tenth of a second allowed past the end (60 s), but starting after it.
    tier = [(0, 3000, "Live-Action"), (60_020, 60_080, "Animation")]

    result = import_tier(session, film, eaf_document({"Image Type": tier}), "Image Type")

    assert all(item.end_time >= item.start_time for item in result.imported)
    assert elan_service.agreement(session, film).labelled_s == pytest.approx(3.0)


def test_import_reads_a_document_with_a_byte_order_mark(session: Session, film: int) -> None:
    data = b"\xef\xbb\xbf" + eaf_document({"Image Type": IMAGE_TYPE})

    result = import_tier(session, film, data, "Image Type")

    assert len(result.imported) == 3
