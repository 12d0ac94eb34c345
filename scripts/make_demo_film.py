"""Assemble the demo film (``demo/hybridlens-demo.mp4``) from public-domain frames in
``../shared/data``: silent-film intertitles (NP), live action of 1903-1924 (P), and titles
over live action (hybrid), each still brought to life with a slow push-in and film grain.

    .venv/bin/python scripts/make_demo_film.py [--data ../shared/data] [--out demo/hybridlens-demo.mp4]

Only this script reads ``../shared``; the film it writes is committed, and ``make analyze``
with no FILM= analyses it. ``demo/SOURCES.md`` says where every frame comes from.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, FPS = 480, 360, 24


@dataclass(frozen=True)
class Shot:
    """One shot: stills shown one after another (a few seconds of an early film), or one
    title laid over a live-action still (``over``: the lighter of the two, as a printed
    superimposition looks)."""

    images: tuple[str, ...]
    seconds: float
    over: str | None = None


# About 30 s: title cards, actualities and drama of 1903-1924, two titles over live action.
# (Only the original films' own cards: not the modern video release's title and text cards.)
SHOTS = (
    Shot(("nonphotographic/cabiria_024.jpg",), 2.5),
    Shot(tuple(f"photographic/rrtn_{n:03d}.jpg" for n in range(0, 5)), 4.0),
    Shot(("nonphotographic/cabiria_030.jpg",), 2.5),
    Shot(tuple(f"photographic/rrtn_{n:03d}.jpg" for n in range(10, 15)), 4.0),
    Shot(("photographic/cabiria_063.jpg",), 2.5),
    Shot(("nonphotographic/cabiria_027.jpg",), 3.0, over="photographic/cabiria_066.jpg"),
    Shot(("photographic/cabiria_051.jpg",), 2.5),
    Shot(("nonphotographic/cabiria_036.jpg",), 2.5),
    Shot(tuple(f"photographic/rrtn_{n:03d}.jpg" for n in range(5, 10)), 3.5),
    Shot(("hybrid/cabiria_103.jpg",), 3.0),
)

FIT = (
    f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
    f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=gray"
)


def _still(image: Path, over: Path | None, seconds: float, out: Path) -> None:
    frames = round(seconds * FPS)
    # A slow push-in and a little grain: the shot detector and sampler see footage, not a
    # frozen frame (which they would rightly treat as one sample).
    motion = (
        f"zoompan=z='1+0.0015*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
        f":d={frames}:s={WIDTH}x{HEIGHT}:fps={FPS},noise=alls=5:allf=t"
    )
    if over is None:
        graph = f"[0:v]{FIT},{motion}[v]"
        inputs = ["-i", str(image)]
    else:
        graph = (
            f"[0:v]{FIT}[title];[1:v]{FIT}[live];[live][title]blend=all_mode=lighten,{motion}[v]"
        )
        inputs = ["-i", str(image), "-i", str(over)]
    _ffmpeg([*inputs, "-filter_complex", graph, "-map", "[v]", "-frames:v", str(frames),
             "-c:v", "ffv1", str(out)])  # fmt: skip


def _ffmpeg(arguments: list[str]) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)


def build(data: Path, out: Path) -> Path:
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        parts: list[Path] = []
        for shot in SHOTS:
            each = shot.seconds / len(shot.images)
            for image in shot.images:
                part = scratch / f"{len(parts):03d}.mkv"
                over = data / shot.over if shot.over else None
                _still(data / image, over, each, part)
                parts.append(part)
        listing = scratch / "parts.txt"
        listing.write_text("".join(f"file '{part}'\n" for part in parts))
        out.parent.mkdir(parents=True, exist_ok=True)
        _ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing),
                 "-c:v", "libx264", "-preset", "veryslow", "-crf", "26", "-pix_fmt", "yuv420p",
                 "-r", str(FPS), "-movflags", "+faststart", str(out)])  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "demo" / "hybridlens-demo.mp4")
    args = parser.parse_args()
    out = build(args.data, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
