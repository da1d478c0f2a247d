"""``python -m benchmarks.faults``: see :mod:`benchmarks.faults.run`."""

from benchmarks.faults.run import main

if __name__ == "__main__":
    raise SystemExit(main())
