"""Thin tasks around the orchestrator: take ids, run a stage, hand on.

``analysis`` holds the Celery tasks, ``inline`` what the API's in-process mode calls; neither
holds pipeline code or a failure policy of its own.
"""
