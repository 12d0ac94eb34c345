"""What the scenes API answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScenePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    index: int = Field(validation_alias="scene_index")
    start_frame: int
    end_frame: int
    start_time_s: float = Field(validation_alias="start_time")
    end_time_s: float = Field(validation_alias="end_time")
    shot_indices: list[int]
