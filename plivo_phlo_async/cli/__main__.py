"""``python -m plivo_phlo_async.cli``: the same as the ``plivo-phlo`` command."""

from . import main

main()
