"""Nothing here is a test: ``make test`` runs ``pytest benchmarks`` as a smoke test, and the
load benchmark starts servers. Its doctests run with
``pytest --noconftest -p no:cacheprovider benchmarks/load``."""

collect_ignore_glob = ["*.py"]
