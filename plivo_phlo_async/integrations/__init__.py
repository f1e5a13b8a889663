"""Running campaigns on distributed task queues.

:mod:`.campaign` is broker-agnostic (plain data in, a plain coroutine, a JSON
summary out) and needs no extra; :mod:`.taskiq` and :mod:`.taskiq_worker`
need the ``taskiq`` extra. Importing ``plivo_phlo_async`` imports none of them.
"""
