"""SQLAlchemy models, one module per table; importing this package registers them all on
``Base.metadata`` (Alembic compares against it)."""

from app.models.analysis import Analysis
from app.models.annotation import LabelAnnotation, MaskAnnotation
from app.models.api_token import ApiToken
from app.models.base import Base
from app.models.batch import Batch
from app.models.collection import Collection
from app.models.collection_film import CollectionFilm
from app.models.element import Element
from app.models.element_cluster import ElementCluster, ElementClusterMember
from app.models.element_run import ElementRun
from app.models.film import Film
from app.models.frame import Frame
from app.models.frame_embedding import FrameEmbedding
from app.models.job import Job
from app.models.scene import Scene
from app.models.shot import Shot

__all__ = [
    "Analysis",
    "ApiToken",
    "Base",
    "Batch",
    "Collection",
    "CollectionFilm",
    "Element",
    "ElementCluster",
    "ElementClusterMember",
    "ElementRun",
    "Film",
    "Frame",
    "FrameEmbedding",
    "Job",
    "LabelAnnotation",
    "MaskAnnotation",
    "Scene",
    "Shot",
]
