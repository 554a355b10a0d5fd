# Two entry points (see README): `make demo` and `make test`. Each builds what it needs in .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# The one torch pin is pyproject.toml's [tool.nngrade]: the CPU build, so CI downloads no CUDA.
# A torch already in $(VENV) (a GPU user's CUDA build) is kept.
TORCH_PIN ?= $(shell sed -n 's/^torch-pin *= *"\(.*\)"/\1/p' pyproject.toml)
TORCH_INDEX ?= $(shell sed -n 's/^torch-index *= *"\(.*\)"/\1/p' pyproject.toml)

.PHONY: venv test demo release clean

# What grading and the report need (the demo); the test extra adds Dask, Ray, nbgrader.
$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch alone from the CPU index (never PyPI's CUDA build); its dependencies come with
	# the next step from the usual index, so only torch's own page is asked of the CPU index
	# (offline or behind a mirror, every page asked of it is retried for seconds).
	$(PY) -c "import torch" 2>/dev/null || $(PIP) --no-deps "$(TORCH_PIN)" --index-url "$(TORCH_INDEX)"
	$(PIP) -e ".[report]"
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PIP) -e ".[test]"
	touch $@

venv: $(VENV)/.test

test: $(VENV)/.test
	$(PY) -m pytest -q

release: $(VENV)/.core
	$(VENV)/bin/nngrade release

demo: $(VENV)/.core
	$(VENV)/bin/nngrade release
	$(VENV)/bin/nngrade validate a2_numpy_mlp
	$(VENV)/bin/nngrade grade-all a1_foundations examples/a1_foundations --out demo-out/a1_foundations
	$(VENV)/bin/nngrade grade-all a2_numpy_mlp examples/a2_numpy_mlp --out demo-out/a2_numpy_mlp
	$(VENV)/bin/nngrade report demo-out/a2_numpy_mlp

clean:
	rm -rf $(VENV) demo-out
