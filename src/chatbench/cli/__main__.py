"""``python -m chatbench.cli``: the ``chatbench`` command."""

from chatbench.cli.commands import main

main()
