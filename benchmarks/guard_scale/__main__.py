"""``python -m benchmarks.guard_scale``: see :mod:`benchmarks.guard_scale.run`."""

from benchmarks.guard_scale.run import main

if __name__ == "__main__":
    raise SystemExit(main())
