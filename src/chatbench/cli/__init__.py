"""The ``chatbench`` command, one module per command group: ``commands`` (run, ablate, list,
and ``main``), ``report`` (report, show, export), ``train`` (train, perplexity, fidelity),
``baseline`` and ``paper``. Commands parse options, call the Python API and print."""

from chatbench.cli.commands import app, summary_table
from chatbench.cli.main import main

__all__ = ["app", "main", "summary_table"]
