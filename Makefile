# Two entry points (see README): `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CI pins the CPU wheel; a torch already in $(VENV) (a GPU user's CUDA build) is kept.
TORCH_PIN ?= torch==2.13.0

.PHONY: venv test demo release clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q --disable-pip-version-check "$(TORCH_PIN)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

test: venv
	$(PY) -m pytest -q

release: venv
	$(VENV)/bin/nngrade release

demo: venv
	$(VENV)/bin/nngrade release
	$(VENV)/bin/nngrade validate a2_numpy_mlp
	$(VENV)/bin/nngrade grade-all a1_foundations examples/a1_foundations --out demo-out/a1_foundations
	$(VENV)/bin/nngrade grade-all a2_numpy_mlp examples/a2_numpy_mlp --out demo-out/a2_numpy_mlp
	$(VENV)/bin/nngrade report demo-out/a2_numpy_mlp

clean:
	rm -rf $(VENV) demo-out
