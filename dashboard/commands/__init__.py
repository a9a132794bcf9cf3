"""The command groups of the ``northstar`` command line."""
