"""The fault benchmark: database restarts and crashes under load (``make bench-faults``)."""
