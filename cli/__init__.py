"""The ``northstar`` command line: one module per command group, assembled by :mod:`cli.main`."""
