# The course's commands. `make lab` and `make test` are the two a learner needs; both create
# the environment first when it is missing or out of date.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# The stamp is rebuilt only when the pins change, so `make setup` is quick when nothing did.
STAMP  := $(VENV)/.course-installed

# Tests, grading and benchmarks run offline, as the stored outputs were made: the bundled nano
# SmolLM2 pair, one thread, no GPU. scripts/offline.py spells those conditions (and says why)
# and runs a command under them. Scripts and benchmarks run as modules from this folder.
OFFLINE := $(BIN)/python -m scripts.offline

.PHONY: setup lab test exercises new-exercise outputs grade mutants nano bench timings colab clean-venv

# bubblewrap, the sandbox course-grade grades in: installed here only where no password is
# needed (root); `make grade` installs it otherwise.
setup: $(STAMP)
	@scripts/install_bubblewrap.sh --no-sudo

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# Colab and CUDA machines keep their own torch; elsewhere take the CPU build on local disk.
	@if command -v nvidia-smi >/dev/null 2>&1; then echo "CUDA present: keeping pip's torch"; \
	  else $(BIN)/pip install -q --disable-pip-version-check torch==2.13.0; fi
	@# The base and every extra (lab: JupyterLab, kernel, widgets, plots; dev: tests, grading),
	@# so a laptop and CI get pyproject.toml's exact pins for everything. Colab installs the base only.
	$(BIN)/pip install -q --disable-pip-version-check -e ".[lab,dev]"
	@touch $(STAMP)

# The whole repository is browsable (exercises/, solutions/); the start-here notebook opens first.
# In a container you are often root, and JupyterLab refuses root unless told. LAB_ARGS: more
# options, e.g. `make lab LAB_ARGS=--port=8899`.
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The olah Hub mirror the tests run lessons against (tests/support/hub_mirror.py): its ~50 server
# packages live in their own tool environment, never in the .venv learners install. Rebuilt from
# scratch, only when the pins change.
MIRROR_VENV  := .venv-mirror
MIRROR_STAMP := $(MIRROR_VENV)/.mirror-installed
.PHONY: mirror-tools
mirror-tools: $(MIRROR_STAMP)

$(MIRROR_STAMP): tests/support/mirror-requirements.txt
	rm -rf $(MIRROR_VENV)
	$(PYTHON) -m venv $(MIRROR_VENV)
	$(MIRROR_VENV)/bin/pip install -q --disable-pip-version-check -r tests/support/mirror-requirements.txt
	@touch $@

test: setup mirror-tools
	$(OFFLINE) $(BIN)/python -m pytest

exercises: setup
	$(BIN)/python -m scripts.make_exercises

# Add an exercise in one step: a working example (its check, its cells in solutions/, the course
# map), then exercises/, the manifest, the README table and that lesson's stored solution outputs
# regenerated. docs/INSTRUCTORS.md ("Adding an exercise") says what to edit next.
new-exercise: setup
	@test -n "$(ID)" && test -n "$(POINTS)" || { echo "make new-exercise ID=NN.name POINTS=1|2|3"; exit 2; }
	$(BIN)/python -m scripts.new_exercise "$(ID)" --points "$(POINTS)"

# Re-run every notebook and solution offline and store the outputs (after changing one of them,
# or the nano assets); then `make exercises timings`. store_outputs and lesson_times put the
# kernels they start under scripts/offline.py's conditions themselves.
outputs: setup
	$(BIN)/python -m scripts.store_outputs

# course-grade seals each submission in a bubblewrap sandbox (docs/INSTRUCTORS.md): installed
# first where it is missing (Debian, Ubuntu; elsewhere the script says what to run). The gradebook
# and report go beside the class folder, named after it (fall/ -> fall.gradebook.csv and
# fall.report.html), so grading the next class never touches the last one's. GRADE_ARGS: more
# options, e.g. `make grade SUBMISSIONS=fall/ GRADE_ARGS=--fresh`.
grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "make grade SUBMISSIONS=<folder of submitted notebooks>"; exit 2; }
	scripts/install_bubblewrap.sh
	$(OFFLINE) $(BIN)/course-grade $(SUBMISSIONS) --jobs 2 $(GRADE_ARGS)

# Mutation testing of the checks (course_utils/grading/mutation): every solution edited once in
# every way a learner slips, each mutant graded; prints the kill rate per exercise and each
# survivor. MUTANTS_ARGS: e.g. `--exercise 05.` or `--sample 3`.
mutants: setup
	$(OFFLINE) $(BIN)/python -m scripts.mutants $(MUTANTS_ARGS)

nano: setup
	$(BIN)/python -m scripts.build_nano

# Every benchmarks/*.py; a GPU, where there is one, stays visible (bench_sft measures it).
BENCHMARKS := $(basename $(notdir $(filter-out %/__init__.py,$(sort $(wildcard benchmarks/*.py)))))
bench: setup
	@for b in $(BENCHMARKS); do echo "== benchmarks/$$b.py"; $(OFFLINE) --gpu $(BIN)/python -m benchmarks.$$b || exit 1; done

timings: setup
	$(BIN)/python -m scripts.lesson_times

colab: setup
	$(BIN)/python -m scripts.colab_header

clean-venv:
	rm -rf $(VENV)
