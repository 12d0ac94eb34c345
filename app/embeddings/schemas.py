"""What look-alike search answers, and what the embedding stage hands to storage."""

from __future__ import annotations

from pydantic import BaseModel

# The most neighbours one query may ask for.
MAX_K = 1000


class SimilarFrame(BaseModel):
    """A stored frame like the query, with its cosine similarity (1 = the same direction)."""

    film_id: int
    frame_index: int
    time_s: float
    score: float
