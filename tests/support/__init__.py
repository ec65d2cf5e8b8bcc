"""Test-only machinery (not shipped with the course): see `hub_mirror`."""
