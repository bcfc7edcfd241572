"""Helpers shared by every module of the package; nothing here imports from above it.

The modules are private: their functions are the package's internal API
(validation, parameter helpers, optional imports, small statistics, table
writers), not part of the public one.
"""
