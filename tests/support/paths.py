"""Where things are in the repository, for tests and test support (one definition)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS, SOLUTIONS, EXERCISES = ROOT / "notebooks", ROOT / "solutions", ROOT / "exercises"
