"""Real clips through `hybridlens analyze`, as a user runs it: what each film comes out as.

    python bench/bench_real_films.py [--videos ../shared/data/videos]

The clips in ``../shared/data/videos`` have no frame-level truth, only what SOURCES.md says
of each (live action, animation, a live-action film of a screen showing a drawn UI, 3D CGI
that is kept out of training labels). So this prints, per film, the shares of running time
the pipeline calls P, NP and hybrid beside what an archivist would expect, for a reader to
judge; it asserts nothing. Each film is analysed by the installed command in a fresh process
with a throwaway SQLite database.

``--faded`` first fades every clip as a faded colour print (ffmpeg's ``lutrgb``, the mapping
of ``bench_transfers.faded_colour``: a magenta cast, blacks lifted) and analyses that; compare
with the clips as they are, and with ``HYBRIDLENS_MODEL__BALANCE_COLOUR=false``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What SOURCES.md says each clip is; the share an archivist expects to dominate.
EXPECTED = {
    "oldfilm_002": ("b/w silent-era street scene", "P"),
    "oldfilm_003": ("b/w old film, house exterior", "P"),
    "psd_testvideo": ("live-action nature shots, small caption", "P"),
    "psd_issue-195-aspect-ratio": ("live-action TV documentary", "P"),
    "resrgan_onepiece_demo": ("TV anime with burned-in subtitles", "NP"),
    "psd_goldeneye-vfr-drop3": ("live action of a screen with a drawn UI", "mixed"),
    "adain_cutBunny": ("Big Buck Bunny, 3D CGI (borderline)", "borderline"),
}


def analyse(film: Path, work: Path) -> dict[str, object]:
    env = dict(os.environ, HYBRIDLENS_DATA_DIR=str(work), PYTHONWARNINGS="ignore")
    command = [str(REPO / ".venv" / "bin" / "hybridlens"), "analyze", "--json", "--no-progress"]
    out = subprocess.run(
        [*command, "--db", f"sqlite:///{work / 'bench.db'}", str(film)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    document: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return document


def faded(film: Path, work: Path) -> Path:
    """``film`` re-encoded as a faded colour print."""
    from bench_transfers import FADE_GAIN, FADE_LIFT

    lut = ":".join(
        f"{channel}='val*{gain}+{lift:g}'"
        for channel, gain, lift in zip("rgb", FADE_GAIN, FADE_LIFT, strict=True)
    )
    out = work / f"faded_{film.stem}.mp4"
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(film)]
    command += ["-vf", f"lutrgb={lut}", "-c:v", "libx264", "-crf", "20", "-pix_fmt", "yuv420p"]
    command += ["-an", str(out)]
    subprocess.run(command, check=True)
    return out


def shares(document: dict[str, object]) -> dict[str, object]:
    analysis = document["analysis"]
    assert isinstance(analysis, dict)
    summary = analysis.get("summary") or {}
    return {
        "P": summary.get("p_time_share"),
        "NP": summary.get("np_time_share"),
        "hybrid": summary.get("hybrid_time_share"),
        "adjusted": summary.get("adjusted_hybrid_ratio"),
        "range": summary.get("hybrid_ratio_range"),
        "frames": summary.get("sampled_frames"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "videos")
    parser.add_argument("--faded", action="store_true", help="fade every clip first")
    args = parser.parse_args()
    films = sorted(args.videos.glob("*.mp4"))
    if not films:
        sys.exit(f"no .mp4 clips under {args.videos}")
    print(
        f"{'film':30s} {'expected':11s} {'P':>6s} {'NP':>6s} {'hybrid':>7s} {'adj.':>6s} "
        f"{'90% range':>10s} {'frames':>7s}  what it is"
    )
    for film in films:
        with tempfile.TemporaryDirectory() as tmp:
            document = analyse(faded(film, Path(tmp)) if args.faded else film, Path(tmp))
        description, expected = EXPECTED.get(film.stem, ("", "?"))
        if "error" in document:
            print(f"{film.stem:30s} {expected:11s} failed: {document['error']}")
            continue
        figures = shares(document)

        def fmt(value: object) -> str:
            if isinstance(value, list):
                return "-".join(fmt(bound) for bound in value)
            return f"{value:.2f}" if isinstance(value, float) else str(value)

        print(
            f"{film.stem:30s} {expected:11s} {fmt(figures['P']):>6s} "
            f"{fmt(figures['NP']):>6s} {fmt(figures['hybrid']):>7s} {fmt(figures['adjusted']):>6s} "
            f"{fmt(figures['range']):>10s} {fmt(figures['frames']):>7s}  {description}"
        )


if __name__ == "__main__":
    main()
