"""The analysis stages, registered by name in ``registry`` and run by ``workers.orchestrator``.

``prepare`` (cpu) -> ``infer`` (gpu) -> ``finish`` (cpu), handing over through the ``spool``
and reaching the database only through the ``store``.
"""
