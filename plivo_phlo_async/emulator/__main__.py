"""``python -m plivo_phlo_async.emulator --port 8765``: run the emulator."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
