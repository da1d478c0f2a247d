"""``python -m benchmarks.load``: see :mod:`benchmarks.load.run`."""

from benchmarks.load.run import main

if __name__ == "__main__":
    raise SystemExit(main())
