"""Scenes: runs of consecutive shots that belong together, found after the shots."""
