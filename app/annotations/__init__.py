"""Annotations: human masks and labels, propagated masks, imported labels; how they combine
with the model's output into each frame's and shot's effective answer."""
