"""The HTTP load benchmark: rls against itself without auth, a hand-written floor and datasette.

Run it with ``python -m benchmarks.load`` (``--help`` lists the options); ``make bench``
runs it after the micro benchmarks and writes ``benchmarks/RESULTS.md``.
"""
