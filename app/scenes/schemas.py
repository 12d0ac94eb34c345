"""What the scenes API answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field


class ScenePublic(BaseModel):
    """A scene (a run of consecutive shots). Scenes and shots are numbered from 1, as
    everywhere (``number``, ``shot_numbers``, like ``ShotPublic.number``); ``index`` and
    ``shot_indices`` are the same counted from 0, kept for existing clients (deprecated)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    index: int = Field(
        validation_alias="scene_index",
        description="Deprecated: the scene's number from 0; use number.",
        json_schema_extra={"deprecated": True},  # in OpenAPI, not a runtime warning
    )
    start_frame: int
    end_frame: int
    start_time_s: float = Field(validation_alias="start_time")
    end_time_s: float = Field(validation_alias="end_time")
    shot_indices: list[int] = Field(
        description="Deprecated: the scene's shots counted from 0; use shot_numbers.",
        json_schema_extra={"deprecated": True},  # in OpenAPI, not a runtime warning
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def number(self) -> int:
        """The scene's number, from 1 (as in scenes.csv and the OTIO markers)."""
        return self.index + 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def shot_numbers(self) -> list[int]:
        """The scene's shots, numbered from 1 like ``ShotPublic.number``."""
        return [shot + 1 for shot in self.shot_indices]
