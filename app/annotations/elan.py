"""Reading ELAN (``.eaf``) files and mapping a tier's values to frame classes: plain values
in, plain values out. The import itself (``elan_service``) stores what this reads.

Files are parsed with ``pympi-ling`` (Python's expat underneath). An EAF document never
needs a DTD, so one that declares a DOCTYPE or entities is refused before parsing: no
entity expansion, no external references.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from app.core.domain import FrameClass
from app.core.errors import InvalidRequestError, PayloadTooLargeError

MAX_BYTES = 16 * 1024 * 1024

# The ELAN "Image Type" vocabulary of the method's own project, and the plain class names.
# "Still Image" is left out on purpose: a still may be a photograph (P) or a drawing (NP),
# so its class cannot be told from the value; map it with an override (``Still Image=P``).
DEFAULT_MAPPING: dict[str, FrameClass] = {
    "animation": FrameClass.NP,
    "live action": FrameClass.P,
    "hybrid image": FrameClass.HYBRID,
    "hybrid": FrameClass.HYBRID,
    "p": FrameClass.P,
    "np": FrameClass.NP,
}
# What the analysis exports back to ELAN: the values of that vocabulary.
ELAN_VALUES: dict[FrameClass, str] = {
    FrameClass.P: "Live-Action",
    FrameClass.NP: "Animation",
    FrameClass.HYBRID: "Hybrid Image",
}


class BadEafFile(InvalidRequestError):
    """The file is not a usable ELAN document, or the chosen tier cannot be imported (422)."""


@dataclass(frozen=True, slots=True)
class EafAnnotation:
    """One annotation of a tier: [start_ms, end_ms) and its value."""

    start_ms: int
    end_ms: int
    value: str

    @property
    def span(self) -> str:
        return f"{_clock(self.start_ms)}-{_clock(self.end_ms)}"


def _clock(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes:02d}:{rest / 1000:06.3f}"


def normalise_value(value: str) -> str:
    """The key a value is mapped by: case, hyphens, underscores and spacing do not count
    ("Live-Action", "live action" and "LIVE_ACTION" are one value)."""
    return re.sub(r"[\s_\-]+", " ", value).strip().casefold()


def parse_mapping(pairs: Iterable[str]) -> dict[str, FrameClass]:
    """Overrides written ``Value=Class`` (Class: P, NP or hybrid), keyed as
    ``normalise_value`` keys them."""
    classes = {item.value.casefold(): item for item in FrameClass}
    found: dict[str, FrameClass] = {}
    for pair in pairs:
        value, sep, target = pair.rpartition("=")
        chosen = classes.get(target.strip().casefold())
        if not sep or not value.strip() or chosen is None:
            raise BadEafFile(
                f"a mapping is written 'Value=P', 'Value=NP' or 'Value=hybrid': {pair!r}"
            )
        found[normalise_value(value)] = chosen
    return found


def mapping_with(overrides: Mapping[str, FrameClass]) -> dict[str, FrameClass]:
    return {**DEFAULT_MAPPING, **overrides}


class EafDocument:
    """A parsed ELAN document: its tiers, and each tier's annotations in time order."""

    def __init__(self, eaf: object) -> None:
        self._eaf = eaf

    @property
    def tier_names(self) -> list[str]:
        return list(self._eaf.get_tier_names())  # type: ignore[attr-defined]

    def _check_parents(self, tier: str) -> None:
        """A dependent tier's chain of parents must end (pympi would follow a cycle forever)."""
        tiers = self._eaf.tiers  # type: ignore[attr-defined]
        seen = {tier}
        current = tier
        while parent := tiers[current][2].get("PARENT_REF"):
            if parent in seen or parent not in tiers:
                raise BadEafFile(f"tier {tier!r} depends on a missing or circular parent tier")
            seen.add(parent)
            current = parent

    def annotations(self, tier: str) -> list[EafAnnotation]:
        """The tier's annotations (a dependent tier's take their parent's times), sorted
        by start; ``BadEafFile`` for a tier not in the file or with unaligned times."""
        if tier not in self.tier_names:
            names = ", ".join(repr(name) for name in self.tier_names) or "none"
            raise BadEafFile(f"the file has no tier {tier!r} (its tiers: {names})")
        self._check_parents(tier)
        try:
            rows = self._eaf.get_annotation_data_for_tier(tier)  # type: ignore[attr-defined]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise BadEafFile(f"tier {tier!r} refers to annotations the file lacks") from exc
        found = []
        for row in rows:
            start, end, value = row[0], row[1], row[2]
            if start is None or end is None:
                raise BadEafFile(
                    f"tier {tier!r} has an annotation without aligned times ({value!r})"
                )
            found.append(EafAnnotation(int(start), int(end), str(value or "").strip()))
        return sorted(found, key=lambda a: (a.start_ms, a.end_ms))


def _refuse_doctype(data: bytes) -> None:
    """``BadEafFile`` for a DOCTYPE in any encoding: the byte check above only sees ASCII ones
    (a UTF-16 document spells ``<!DOCTYPE`` otherwise), so expat, which decodes as the parser
    will, looks for one; it stops at the declaration, before any entity is read."""

    def refuse(*_: object) -> None:
        raise BadEafFile("an ELAN document declares no DOCTYPE or entities")

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise BadEafFile(f"the file is not a readable ELAN document ({exc})") from exc


def read_eaf(data: bytes) -> EafDocument:
    """Parse an uploaded ``.eaf``; ``BadEafFile`` (422) unless it is an ELAN document."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLargeError(f"an ELAN file may have at most {MAX_BYTES} bytes")
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 byte order mark
    if not head.startswith(b"<") or b"<ANNOTATION_DOCUMENT" not in data:
        raise BadEafFile("the file is not an ELAN document (.eaf XML)")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BadEafFile("an ELAN document declares no DOCTYPE or entities")
    _refuse_doctype(data)
    from pympi.Elan import Eaf  # the parser lives apart from the rest of the app's code

    with tempfile.TemporaryDirectory(prefix="hybridlens-eaf-") as folder:
        path = Path(folder) / "upload.eaf"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                eaf = Eaf(str(path), suppress_version_warning=True)
        except Exception as exc:  # pympi raises bare Exception, KeyError... on bad files
            raise BadEafFile(
                f"the file is not a readable ELAN document ({type(exc).__name__})"
            ) from exc
    return EafDocument(eaf)


def check_tier(tier: str, annotations: list[EafAnnotation], duration_s: float | None) -> None:
    """``BadEafFile`` for a tier that cannot stand as labels: empty, an annotation without
    duration, two that overlap, or times past the end of the film."""
    if not annotations:
        raise BadEafFile(f"tier {tier!r} has no annotations")
    for annotation in annotations:
        if annotation.start_ms < 0 or annotation.end_ms <= annotation.start_ms:
            raise BadEafFile(
                f"tier {tier!r}: the annotation {annotation.value!r} at {annotation.span} "
                "has no duration"
            )
    for before, after in itertools.pairwise(annotations):
        if after.start_ms < before.end_ms:
            raise BadEafFile(
                f"tier {tier!r}: annotations overlap ({before.value!r} at {before.span} and "
                f"{after.value!r} at {after.span}); one time may have one label"
            )
    # ELAN counts in milliseconds and media players round their durations: allow a tenth
    # of a second past the probed end.
    if duration_s is not None and duration_s > 0:
        last = max(annotations, key=lambda a: a.end_ms)
        if last.end_ms / 1000 > duration_s + 0.1:
            raise BadEafFile(
                f"tier {tier!r}: the annotation {last.value!r} at {last.span} ends after the "
                f"film ({duration_s:.3f} s)"
            )
