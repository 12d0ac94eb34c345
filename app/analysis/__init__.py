"""Analyses of films and their results (shots, frames, masks, summaries, reports)."""
