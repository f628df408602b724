"""``python -m chatbench.cli``: the ``chatbench`` command."""

from chatbench.cli.main import main

main()
