"""Self-supervised refinement of element embeddings for one collection (CAST, step 5).

A small residual MLP (``ProjectionHead``) on the frozen pretrained embeddings is trained with
InfoNCE (or a triplet hinge): the anchor's positive is another sighting of its track (the
same element within a shot: what a redrawn figure keeps across poses and line weights) or an
augmented view of its own crop (``element_augment``: what a print's colour or a mirrored copy
changes between shots, which no track shows). Its negatives: another track of the same shot
(two tracks of one shot are two different elements for sure) and the batch's other elements,
less those of its own track and its pretrained look-alikes (most likely the same element seen
in another film). The head starts as the identity, so "before" is the pretrained space.
Seeded; runs on the GPU when there is one, else the CPU, in seconds. The weights go out as
numpy arrays (``app.elements.head`` applies them without torch).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from app.elements.head import KEYS


@dataclass(frozen=True)
class RefineSettings:
    """Defaults tuned with ``bench/bench_elements.py --split tune`` (seeds 10 to 13, the
    animated collection, plain and ``--hard``; docs/elements.md); the reported figures come
    from the other split and seeds. InfoNCE at temperature 0.3 with two augmented views per
    element and a 32-unit hidden layer had the best mean NMI gain there (+0.004 plain,
    +0.028 hard); the triplet hinge barely moved the space (+0.001, +0.003), most triplets
    meeting the margin from the start. Negatives from the anchor's own shot, and look-alikes
    (0.7 pretrained similarity) left out: a wider space of negatives splits elements."""

    steps: int = 150
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    margin: float = 0.4
    # Tracks of two shots that are mutual nearest neighbours at least this similar give
    # positives across shots (None: positives only within a track, CAST's rule; 0.8 did
    # not help in the bench).
    partner_similarity: float | None = None
    # A second round of ``steps``, continuing the first head, whose positives across shots
    # come from tracks that are mutual nearest neighbours in the first head's space at this
    # similarity or more (None: one round). The first round tightens each figure's tracks;
    # the second teaches that two shots' sightings of one figure are one element.
    second_round_partners: float | None = None
    # Partners are mutual nearest tracks (True), or each track's nearest track of another
    # shot (False: more pairs across shots, as NNCLR takes its positives).
    partner_mutual: bool = True
    # Negatives at least this similar to the anchor (pretrained) are taken for the same element.
    false_negative_similarity: float = 0.7
    hidden: int = 32
    # Share of negatives drawn from another track of the anchor's shot, when it has one.
    same_shot_negatives: float = 1.0
    # Triplets held fixed to report the loss before and after.
    eval_triplets: int = 2048
    # Augmented views embedded per element (``element_augment``; 0: none), and the share of
    # triplets whose positive is a view of the anchor instead of another sighting of its
    # track, and of those whose anchor is a view (so that track pairs span a colour change).
    augment_views: int = 2
    # "triplet" (hinge on cosine distances, ``margin``) or "infonce": each anchor against its
    # positive, its same-shot negative and the other positives of the batch (minus those of
    # its own track and pretrained look-alikes, ``false_negative_similarity``), at
    # ``temperature``: unlike the hinge, it keeps learning once the margin is met.
    loss: str = "infonce"
    temperature: float = 0.3
    augment_positives: float = 0.5
    augment_anchors: float = 0.5


class ProjectionHead(nn.Module):
    """``normalise(x + W2 relu(W1 x + b1) + b2)``; W2 and b2 start at zero (the identity)."""

    def __init__(self, dimension: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dimension, hidden)
        self.w2 = nn.Linear(hidden, dimension)
        nn.init.zeros_(self.w2.weight)
        nn.init.zeros_(self.w2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, D)
        x = functional.normalize(x, dim=1)
        return functional.normalize(x + self.w2(torch.relu(self.w1(x))), dim=1)

    def load(self, weights: Mapping[str, np.ndarray]) -> None:
        """Weights as ``export`` gives them."""
        arrays = (self.w1.weight, self.w1.bias, self.w2.weight, self.w2.bias)
        with torch.no_grad():
            for key, value in zip(KEYS, arrays, strict=True):
                value.copy_(torch.as_tensor(np.asarray(weights[key], np.float32)))

    def export(self) -> dict[str, np.ndarray]:
        arrays = (self.w1.weight, self.w1.bias, self.w2.weight, self.w2.bias)
        return {
            key: value.detach().float().cpu().numpy()
            for key, value in zip(KEYS, arrays, strict=True)
        }


@dataclass(frozen=True)
class Triplets:
    anchor: np.ndarray
    positive: np.ndarray
    negative: np.ndarray

    def __len__(self) -> int:
        return len(self.anchor)


def _joined(numbers: np.ndarray, links: Sequence[tuple[int, int]]) -> np.ndarray:
    """``numbers`` with every linked pair of numbers (and what they link to) made one:
    each connected group takes its smallest number."""
    parent = {int(number): int(number) for number in np.unique(numbers)}

    def root(number: int) -> int:
        while parent[number] != number:
            parent[number] = parent[parent[number]]
            number = parent[number]
        return number

    for first, second in links:
        low, high = sorted((root(first), root(second)))
        parent[high] = low
    return np.array([root(int(number)) for number in numbers], int)


def _flatten(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ragged groups as (flat values, start of each group, size of each group)."""
    sizes = np.array([len(group) for group in groups], int)
    starts = np.cumsum(sizes) - sizes
    flat = np.concatenate(groups).astype(int) if sizes.sum() else np.zeros(0, int)
    return flat, starts, sizes


class TripletSampler:
    """Triplets from tracks: positives share the anchor's track, negatives do not.

    Negatives come from another track of the anchor's shot when it has one (with
    probability ``same_shot_share``): two tracks of one shot are surely two elements, and
    they share the shot's background, so telling them apart teaches the head to look at the
    element, not around it. Otherwise a random element of another track, unless its
    pretrained embedding is nearly the anchor's (``false_negative``): that one is most
    likely the same element elsewhere, and pushing it away would split what should join.
    """

    def __init__(
        self,
        track_keys: Sequence[Hashable],
        shot_keys: Sequence[Hashable],
        embeddings: np.ndarray,
        *,
        false_negative: float = 0.9,
        partner_similarity: float | None = None,
        partner_vectors: np.ndarray | None = None,
        partner_mutual: bool = True,
    ) -> None:
        members: dict[Hashable, list[int]] = defaultdict(list)
        for position, key in enumerate(track_keys):
            members[key].append(position)
        numbering = {key: number for number, key in enumerate(members)}
        self.track_number = np.array([numbering[key] for key in track_keys], int)
        usable = [key for key, rows in members.items() if len(rows) >= 2]
        tracks_of_shot: dict[Hashable, set[Hashable]] = defaultdict(set)
        for track, shot in zip(track_keys, shot_keys, strict=True):
            tracks_of_shot[shot].add(track)
        same_shot = []
        for key in usable:
            shot = shot_keys[members[key][0]]
            rows = [row for other in tracks_of_shot[shot] if other != key for row in members[other]]
            same_shot.append(np.array(rows, int))
        self.members = _flatten([np.array(members[key]) for key in usable])
        self.same_shot = _flatten(same_shot)
        self.vectors = np.asarray(embeddings, np.float32)
        partner_space = self.vectors if partner_vectors is None else partner_vectors
        partners = self._partners(
            members, shot_keys, partner_similarity, partner_space, mutual=partner_mutual
        )
        self.partners = _flatten([np.array(partners.get(key, []), int) for key in usable])
        # Tracks joined by a partner link count as one element when leaving candidates out
        # of an anchor's denominator (``blocked_candidates``).
        self.group_number = _joined(
            self.track_number,
            [(numbering[key], int(self.track_number[rows[0]])) for key, rows in partners.items()],
        )
        self.false_negative = false_negative
        self.count = len(track_keys)
        self.track_total = len(members)

    def _partners(
        self,
        members: dict[Hashable, list[int]],
        shot_keys: Sequence[Hashable],
        threshold: float | None,
        space: np.ndarray,
        *,
        mutual: bool = True,
    ) -> dict[Hashable, list[int]]:
        """Members of each track's partner: the track of another shot that is its mutual
        (``mutual``, else plain) nearest neighbour (track means in ``space``) at
        ``threshold`` or more. Such pairs are taken for the same element seen twice, and
        give positives across shots."""
        if threshold is None or len(members) < 2:
            return {}
        keys = list(members)
        means = np.stack([space[rows].mean(axis=0) for rows in members.values()])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-8)
        similarity = means @ means.T
        shots = [shot_keys[rows[0]] for rows in members.values()]
        for row, shot in enumerate(shots):
            same = [column for column, other in enumerate(shots) if other == shot]
            similarity[row, same] = -np.inf
        nearest = similarity.argmax(axis=1)
        found: dict[Hashable, list[int]] = {}
        for row, column in enumerate(nearest):
            if (nearest[column] == row or not mutual) and similarity[row, column] >= threshold:
                found[keys[row]] = members[keys[column]]
        return found

    def __bool__(self) -> bool:
        # Needs one track seen twice and one element outside it.
        return len(self.members[1]) > 0 and self.track_total >= 2

    def sample(
        self, rng: np.random.Generator, count: int, same_shot_share: float = 0.5, tries: int = 8
    ) -> Triplets:
        flat, starts, sizes = self.members
        tracks = rng.integers(len(sizes), size=count)
        first = rng.integers(sizes[tracks])
        second = (first + 1 + rng.integers(sizes[tracks] - 1)) % sizes[tracks]
        anchors = flat[starts[tracks] + first]
        positives = flat[starts[tracks] + second]

        # Random negatives: the first of a few candidates from another track that is not a
        # look-alike; when all are, the last candidate from another track.
        candidates = rng.integers(self.count, size=(count, tries))
        other_track = self.track_number[candidates] != self.track_number[anchors][:, None]
        similarity = np.einsum("nd,ntd->nt", self.vectors[anchors], self.vectors[candidates])
        good = other_track & (similarity < self.false_negative)
        choice = np.where(good.any(axis=1), good.argmax(axis=1), other_track.argmax(axis=1))
        negatives = candidates[np.arange(count), choice]
        stuck = ~other_track.any(axis=1)
        for slot in np.flatnonzero(stuck):  # rare: only the anchor's track was drawn
            others = np.flatnonzero(self.track_number != self.track_number[anchors[slot]])
            negatives[slot] = others[int(rng.integers(len(others)))]

        partner_flat, partner_starts, partner_sizes = self.partners
        if len(partner_flat):
            across = (partner_sizes[tracks] > 0) & (rng.random(count) < 0.5)
            picks = rng.integers(np.maximum(partner_sizes[tracks], 1))
            index = np.minimum(partner_starts[tracks] + picks, len(partner_flat) - 1)
            positives = np.where(across, partner_flat[index], positives)

        shot_flat, shot_starts, shot_sizes = self.same_shot
        in_shot = (shot_sizes[tracks] > 0) & (rng.random(count) < same_shot_share)
        picks = rng.integers(np.maximum(shot_sizes[tracks], 1))
        from_shot = shot_flat[np.minimum(shot_starts[tracks] + picks, max(len(shot_flat) - 1, 0))]
        negatives = np.where(in_shot, from_shot, negatives) if len(shot_flat) else negatives
        return Triplets(anchors, positives, negatives)


def triplet_loss(
    head: ProjectionHead, vectors: torch.Tensor, triplets: Triplets, margin: float
) -> torch.Tensor:
    """Mean hinge on cosine distances: d(anchor, positive) + margin < d(anchor, negative)."""
    index = torch.as_tensor(
        np.concatenate([triplets.anchor, triplets.positive, triplets.negative]),
        device=vectors.device,
    )
    projected = head(vectors[index])  # (3T, D)
    anchor, positive, negative = projected.chunk(3)
    d_positive = 1.0 - (anchor * positive).sum(dim=1)
    d_negative = 1.0 - (anchor * negative).sum(dim=1)
    return torch.relu(d_positive - d_negative + margin).mean()


def base_rows(rows: np.ndarray, count: int, views: int) -> np.ndarray:
    """The element a row of the table stands for (a view's row -> its element's row)."""
    rows = np.asarray(rows)
    if views <= 0:
        return rows
    return np.where(rows < count, rows, (rows - count) // max(views, 1))


def info_nce_loss(
    head: ProjectionHead,
    vectors: torch.Tensor,
    triplets: Triplets,
    temperature: float,
    blocked: torch.Tensor,
) -> torch.Tensor:
    """Cross-entropy of each anchor picking its positive among the batch's positives and
    negatives; ``blocked`` (B, 2B): candidates left out (probably the anchor's element)."""
    index = torch.as_tensor(
        np.concatenate([triplets.anchor, triplets.positive, triplets.negative]),
        device=vectors.device,
    )
    projected = head(vectors[index])  # (3B, D)
    anchor, candidates = projected[: len(triplets)], projected[len(triplets) :]
    logits = anchor @ candidates.T / temperature  # (B, 2B): positives, then negatives
    logits = logits.masked_fill(blocked, float("-inf"))
    target = torch.arange(len(triplets), device=vectors.device)
    return functional.cross_entropy(logits, target)


def blocked_candidates(
    triplets: Triplets,
    track_number: np.ndarray,
    pretrained: np.ndarray,
    count: int,
    views: int,
    look_alike: float,
) -> np.ndarray:
    """(B, 2B) bool: candidate j is left out of anchor i's denominator when it is of i's
    track or a pretrained look-alike of it (not i's own positive or own negative)."""
    size = len(triplets)
    anchors = base_rows(triplets.anchor, count, views)
    candidates = base_rows(np.concatenate([triplets.positive, triplets.negative]), count, views)
    same_track = track_number[anchors][:, None] == track_number[candidates][None, :]
    similar = pretrained[anchors] @ pretrained[candidates].T >= look_alike
    blocked = same_track | similar
    own = np.arange(size)
    blocked[own, own] = False
    blocked[own, size + own] = False
    return blocked


@dataclass(frozen=True)
class RefineResult:
    weights: dict[str, np.ndarray] | None  # None: nothing to learn from (no track seen twice)
    loss_before: float | None
    loss_after: float | None
    steps: int
    device: str


def with_views(
    triplets: Triplets,
    rng: np.random.Generator,
    count: int,
    views: int,
    positive_share: float,
    anchor_share: float,
) -> Triplets:
    """Triplets over a table of the ``count`` embeddings followed by their ``views`` views
    each (row ``count + i * views + v``: view v of element i): some positives become a view
    of the anchor, some anchors a view of themselves."""
    if views <= 0:
        return triplets
    size = len(triplets)
    anchors, positives = triplets.anchor.copy(), triplets.positive.copy()
    own = rng.random(size) < positive_share
    positives[own] = count + anchors[own] * views + rng.integers(views, size=int(own.sum()))
    moved = rng.random(size) < anchor_share
    anchors[moved] = count + anchors[moved] * views + rng.integers(views, size=int(moved.sum()))
    return Triplets(anchors, positives, triplets.negative)


def refine(
    embeddings: np.ndarray,
    track_keys: Sequence[Hashable],
    shot_keys: Sequence[Hashable],
    *,
    augmented: np.ndarray | None = None,
    settings: RefineSettings | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> RefineResult:
    """Train a projection head on (N, D) pretrained embeddings and their tracks;
    ``augmented``: (N, V, D) embeddings of V augmented views of each element, or None."""
    settings = settings or RefineSettings()
    from workers.ml.inference import select_device

    target = select_device(device)
    sampler = TripletSampler(
        track_keys,
        shot_keys,
        embeddings,
        false_negative=settings.false_negative_similarity,
        partner_similarity=settings.partner_similarity,
        partner_mutual=settings.partner_mutual,
    )
    if not sampler or len(embeddings) == 0:
        return RefineResult(None, None, None, 0, target.type)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    count = len(embeddings)
    table = np.asarray(embeddings, np.float32)
    views = 0
    if augmented is not None and augmented.size:
        if augmented.shape[0] != count:
            raise ValueError(f"{augmented.shape[0]} elements of views for {count} elements")
        views = augmented.shape[1]
        table = np.concatenate([table, augmented.reshape(count * views, -1).astype(np.float32)])
    vectors = torch.as_tensor(table, device=target)

    def draw(size: int, source: TripletSampler) -> Triplets:
        triplets = source.sample(rng, size, settings.same_shot_negatives)
        return with_views(
            triplets,
            rng,
            count,
            views,
            settings.augment_positives,
            settings.augment_anchors,
        )

    pretrained = table[:count] / np.maximum(
        np.linalg.norm(table[:count], axis=1, keepdims=True), 1e-8
    )

    def loss_of(triplets: Triplets, source: TripletSampler) -> torch.Tensor:
        if settings.loss == "infonce":
            blocked = blocked_candidates(
                triplets,
                source.group_number,
                pretrained,
                count,
                views,
                settings.false_negative_similarity,
            )
            mask = torch.as_tensor(blocked, device=target)
            return info_nce_loss(head, vectors, triplets, settings.temperature, mask)
        return triplet_loss(head, vectors, triplets, settings.margin)

    head = ProjectionHead(vectors.shape[1], settings.hidden).to(target)
    optimiser = torch.optim.AdamW(
        head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    second_round = settings.second_round_partners is not None
    total = settings.steps * (2 if second_round else 1)

    def rounds() -> Iterator[TripletSampler]:
        yield sampler
        if second_round:
            # Built after the first round: its partners are nearest in the head's space.
            with torch.no_grad():
                first = head(vectors[:count]).cpu().numpy()
            yield TripletSampler(
                track_keys,
                shot_keys,
                embeddings,
                false_negative=settings.false_negative_similarity,
                partner_similarity=settings.second_round_partners,
                partner_vectors=first,
                partner_mutual=settings.partner_mutual,
            )

    held_out = draw(settings.eval_triplets, sampler)
    with torch.no_grad():
        before = float(loss_of(held_out, sampler))
    for round_number, source in enumerate(rounds()):
        for step in range(settings.steps):
            loss = loss_of(draw(settings.batch_size, source), source)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            done = round_number * settings.steps + step + 1
            if progress is not None and (step % 25 == 0 or step == settings.steps - 1):
                progress(done / total)
    with torch.no_grad():
        after = float(loss_of(held_out, sampler))
    return RefineResult(head.export(), before, after, total, target.type)
