"""The ``element_clusters`` and ``element_cluster_members`` tables: the recurring elements a
run found in its collection, each with its exemplar, its centroid in the refined space and an
optional name given by a person."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId


class ElementCluster(Base):
    __tablename__ = "element_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("element_runs.id", ondelete="CASCADE"), index=True
    )
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    # Rank within the run, largest first.
    rank: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    exemplar_element_id: Mapped[int | None] = mapped_column(
        ForeignKey("elements.id", ondelete="SET NULL")
    )
    # Mean of the members' refined embeddings, L2-normalised: float32 bytes.
    centroid: Mapped[bytes] = mapped_column(LargeBinary)


class ElementClusterMember(Base):
    __tablename__ = "element_cluster_members"

    cluster_id: Mapped[int] = mapped_column(
        ForeignKey("element_clusters.id", ondelete="CASCADE"), primary_key=True
    )
    element_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("elements.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Cosine similarity to the cluster's centroid in the refined space.
    similarity: Mapped[float] = mapped_column(Float)
