"""``python -m hybridlens``: the same as the ``hybridlens`` command."""

from hybridlens.cli import main

main()
