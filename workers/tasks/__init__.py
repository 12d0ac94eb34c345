"""Thin tasks around the analysis stages: take ids, reload rows, run a stage, hand on.

``runner`` holds the logic the Celery tasks (``analysis``) and the API's in-process mode
(``inline``) share; neither holds pipeline code of its own.
"""
