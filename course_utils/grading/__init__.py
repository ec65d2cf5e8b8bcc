"""Grading: the nbval-based pytest plugin and the course-grade command line."""
