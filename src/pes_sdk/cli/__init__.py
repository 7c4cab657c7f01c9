"""The ``pes`` command line."""
