"""pytest plugin for grading exercise notebooks (registered through the pytest11 entry point)."""
