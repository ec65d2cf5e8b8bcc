"""Write or repair the Colab header of every course notebook.

Every notebook in notebooks/, solutions/ and exercises/ starts with
  1. a markdown cell holding an "Open In Colab" badge that points at the notebook's own path
     in the repository (the Repository URL of pyproject.toml, branch main);
  2. the install cell, which installs the pinned course on Colab and does nothing elsewhere.
     It installs the plain distribution, never an extra: [project].dependencies is what the
     lessons import, while JupyterLab, the kernel, pinned widgets/plots (extra `lab`) and the
     test and grading stack (extra `dev`) are for laptops; Colab keeps its own;
and the training lessons (05, 06) ask Colab for a T4 GPU runtime in their metadata.
The contract is in docs/ARCHITECTURE.md ("Notebooks"); tests/test_colab.py checks it
independently of this script.

Usage:
  python -m scripts.colab_header             # repair every notebook in the three folders
  python -m scripts.colab_header --check     # exit 1 and name what is wrong, change nothing
  python -m scripts.colab_header exercises/  # only these notebooks or folders

Running it twice changes nothing the second time: a notebook is rewritten only when its
header differs from the contract, and the rest of the notebook (outputs included) is kept.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

from scripts import ROOT

FOLDERS = ("notebooks", "solutions", "exercises")
BRANCH = "main"
# Lessons that train or run a model long enough that Colab's free GPU is worth asking for.
GPU_LESSONS = ("05_", "06_")
# What they ask for, in the notebook's metadata: a GPU runtime, and which GPU.
GPU_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4"}}

# Fixed ids for the cells this script inserts, so that inserting is deterministic and a rerun
# produces a byte-identical file (nbformat would otherwise draw random ids).
BADGE_CELL_ID = "colab-badge"
INSTALL_CELL_ID = "colab-install"

# Any Colab badge, whatever notebook it points at: the one to repair when a notebook was
# copied or renamed. Group 1 is the link target.
BADGE_RE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\((https://colab\.research\.google\.com/github/[^)\s]*)\)"
)
INSTALL_MARKER = "# On Colab, install the course"


def project_info(root: Path = ROOT) -> tuple[str, str]:
    """Return (distribution name, Repository URL) from pyproject.toml."""
    with open(root / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    return project["name"], project["urls"]["Repository"].rstrip("/")


def colab_url(repository: str, relpath: str) -> str:
    """The colab.research.google.com address that opens `relpath` of a GitHub repository."""
    prefix = "https://github.com/"
    if not repository.startswith(prefix):
        raise ValueError(f"Repository URL {repository!r} is not a github.com address; Colab "
                         "opens notebooks from GitHub only")
    owner_repo = repository[len(prefix):].removesuffix(".git")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/{relpath}"


def badge_markdown(repository: str, relpath: str) -> str:
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(repository, relpath)})")


def install_source(name: str, repository: str) -> str:
    """The install cell, exactly as docs/ARCHITECTURE.md gives it: the distribution, no extras."""
    return (
        "# On Colab, install the course with its pinned libraries; elsewhere this cell does nothing.\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{name} @ git+{repository}"'
    )


def wants_gpu(stem: str) -> bool:
    return stem.startswith(GPU_LESSONS)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def apply_header(nb, relpath: str, name: str, repository: str) -> list[str]:
    """Bring `nb` (an nbformat v4 notebook, changed in place) to the contract.

    Returns one line per repair made; an empty list means the header was already right.
    """
    repairs: list[str] = []
    cells = nb.cells
    badge = badge_markdown(repository, relpath)

    # 1. Badge. A markdown first cell that already holds a Colab badge (say, beside the title)
    #    keeps its other text and gets its link corrected; otherwise a badge cell is inserted.
    first = cells[0] if cells else None
    if first is not None and first.cell_type == "markdown" and BADGE_RE.search(_source(first)):
        old = _source(first)
        new = BADGE_RE.sub(lambda _: badge, old, count=1)
        if new != old:
            first.source = new
            repairs.append(f"badge now points at {relpath}")
    else:
        cells.insert(0, nbformat.v4.new_markdown_cell(badge, id=_free_id(nb, BADGE_CELL_ID)))
        repairs.append("inserted the Colab badge cell")

    # 2. Install cell, second. An existing install cell elsewhere is moved here, so there is
    #    never a second copy; a stale one (old URL or wording) is replaced and its outputs
    #    dropped, because they came from different code.
    wanted = install_source(name, repository)
    found = [i for i, c in enumerate(cells)
             if c.cell_type == "code" and _source(c).lstrip().startswith(INSTALL_MARKER)]
    if found and found[0] == 1 and _source(cells[1]) == wanted and len(found) == 1:
        pass
    else:
        for i in reversed(found):
            del cells[i]
        cell = nbformat.v4.new_code_cell(wanted, id=_free_id(nb, INSTALL_CELL_ID))
        cells.insert(1, cell)
        repairs.append("install cell written" if not found else "install cell repaired")

    # 3. GPU runtime metadata: asked for by the training lessons only (a GPU runtime costs a
    #    learner Colab quota, so the others must not ask for one).
    stem = Path(relpath).stem
    md = nb.metadata
    colab = md.get("colab") if isinstance(md.get("colab"), dict) else {}
    asked = {key: colab[key] for key in GPU_METADATA["colab"] if key in colab}
    if wants_gpu(stem):
        if md.get("accelerator") != GPU_METADATA["accelerator"] or asked != GPU_METADATA["colab"]:
            md["accelerator"] = GPU_METADATA["accelerator"]
            md["colab"] = {**colab, **GPU_METADATA["colab"]}
            repairs.append("GPU runtime metadata added")
    elif "accelerator" in md or asked:
        md.pop("accelerator", None)
        for key in asked:
            del md["colab"][key]
        if asked and not md["colab"]:
            del md["colab"]
        repairs.append("GPU runtime metadata removed (not a training lesson)")
    return repairs


def _free_id(nb, wanted: str) -> str:
    """`wanted`, or `wanted-2`, ... when another cell already uses it (ids must be unique)."""
    taken = {c.get("id") for c in nb.cells}
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def notebooks_in(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(q for q in p.glob("*.ipynb")))
        elif p.suffix == ".ipynb":
            found.append(p)
        else:
            raise SystemExit(f"{p}: neither a folder nor a .ipynb file")
    return found


def process(path: Path, check: bool, root: Path = ROOT) -> list[str]:
    name, repository = project_info(root)
    relpath = path.resolve().relative_to(root.resolve()).as_posix()
    nb = nbformat.read(path, as_version=4)
    repairs = apply_header(nb, relpath, name, repository)
    if repairs and not check:
        nbformat.validate(nb)
        nbformat.write(nb, path)
    return repairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks or folders (default: notebooks/ solutions/ exercises/)")
    parser.add_argument("--check", action="store_true",
                        help="report notebooks whose header is wrong and exit 1; change nothing")
    args = parser.parse_args(argv)
    paths = args.paths or [ROOT / f for f in FOLDERS if (ROOT / f).is_dir()]
    bad = 0
    for path in notebooks_in(paths):
        repairs = process(path, args.check)
        if repairs:
            bad += 1
            verb = "needs" if args.check else "fixed"
            print(f"{path.relative_to(ROOT) if path.is_absolute() else path}: {verb}: "
                  + "; ".join(repairs))
    if args.check and bad:
        print(f"{bad} notebook(s) lack the Colab header; run: python -m scripts.colab_header",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
