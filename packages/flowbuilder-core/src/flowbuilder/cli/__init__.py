"""The ``flowbuilder`` command line: a thin layer over the Python API.

Every command lives in its own module and is imported only when invoked, so that
``flowbuilder --help`` and ``flowbuilder --version`` start fast.
"""
