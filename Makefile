# Aula 10 - Machine Learning Distribuido com PySpark MLlib
# `make lab` and `make test` each bootstrap everything on a fresh machine:
# .venv (from pyproject.toml), a usable Java 17+, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# the course's one command (coursekit/cli.py, installed by pyproject [project.scripts])
AULA10 := $(VENV)/bin/aula10
STAMP := $(VENV)/.coursekit-installed
BUILD := build
PORT ?= 8888
SUBMISSIONS ?=
GRADES ?= $(BUILD)/grades
PYTEST_ARGS ?=

export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(PY))
export COURSEKIT_LOG_DIR := $(abspath $(BUILD))/logs

.PHONY: help setup java jvm-archive lab test lint format exercises grade html clean \
        cluster-up cluster-down connect-up connect-down history-up history-down doctor release

help:
	@echo "make lab      - prepara o ambiente (.venv + Java) e abre o JupyterLab"
	@echo "make test     - prepara o ambiente e roda todos os testes"
	@echo "make doctor   - diagnostico (Python, Java, Spark)"
	@echo "make grade SUBMISSIONS=<pasta> [GRADES=<pasta>] [GRADE_ARGS=...] - corrige entregas (sandbox)"
	@echo "make release  - pacote dos alunos (build/release/aula10.zip), sem soluções"
	@echo "make exercises / html / clean / cluster-up / cluster-down / connect-up / connect-down"
	@echo "make history-up / history-down (history server do Spark, lendo build/spark-events)"

# .venv is (re)built when missing or older than pyproject.toml; otherwise this is a no-op.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ e necessario (encontrado: " + sys.version.split()[0] + "). Instale python3.11 ou use environment.yml (conda).")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) java jvm-archive

java: $(STAMP)
	@$(PY) -m coursekit.java ensure

# Spark's classes pre-parsed into one file that every driver JVM maps (coursekit/cds.py): built
# once per environment (about 1.5 min), checked in a second afterwards; never fails the setup.
jvm-archive: java
	@$(PY) -m coursekit.cds

doctor: setup
	$(AULA10) doctor

lab: setup
	@echo "Abrindo o JupyterLab em http://127.0.0.1:$(PORT)/lab (copie a URL com o token abaixo)"
	$(AULA10) lab --port=$(PORT) --root=$(CURDIR)

# The suite is CPU-bound (two lessons side by side leave the 2 cores 2% idle) and most of its
# JVMs live a minute or two on small data: C1-only JIT spends far less CPU compiling (lessons 02
# and 03 side by side at SCALE="ci": 190 s -> 146 s). -Xss16m: C1 frames are bigger, and ALS's
# deep task closures overflowed the default stack. Data-heavy tests drop these flags (see
# tests/test_datasets.py). `make test TEST_JAVA_OPTS=` runs with the JVM defaults.
TEST_JAVA_OPTS ?= -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss16m

# Whole files per worker, in the order of tests/conftest.py (longest first), not xdist's
# "most tests first" (--no-loadscope-reorder).
# Then the figures tier (tests/figures): every recorded figure against the dataset truth, once all
# the runs above have written theirs.
test: setup
	@mkdir -p $(BUILD)
	COURSEKIT_JAVA_OPTS="$(TEST_JAVA_OPTS)" $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25 $(PYTEST_ARGS)
	COURSEKIT_JAVA_OPTS="$(TEST_JAVA_OPTS)" $(PY) -m pytest -m figures --notebooks none tests/figures

lint: setup
	$(PY) -m ruff check coursekit mlplatform tests tools notebooks solutions
	$(PY) -m ruff format --check coursekit mlplatform tests tools notebooks solutions

format: setup
	$(PY) -m ruff format coursekit mlplatform tests tools notebooks solutions
	$(PY) -m ruff check --fix coursekit mlplatform tests tools notebooks solutions

# Student versions exercises/ regenerated from solutions/ (nbgrader generate_assignment).
exercises: setup
	$(AULA10) exercises

# Grade SUBMISSIONS/<student>/<exercise>.ipynb (a folder or a .zip) at SCALE="ci" into GRADES,
# each submission in its own sandbox. GRADE_ARGS: e.g. --jobs 3, --no-sandbox, --all-cells.
GRADE_ARGS ?=
grade: need-submissions setup
	$(AULA10) grade "$(SUBMISSIONS)" --grades "$(GRADES)" --solutions solutions --data data $(GRADE_ARGS)

# What students get: build/release/aula10/ and build/release/aula10.zip (no solutions, no grader cells).
release: setup
	$(AULA10) release --root . --out $(BUILD)/release

.PHONY: need-submissions
need-submissions:
	@test -n "$(strip $(SUBMISSIONS))" || { \
	  echo "Informe as entregas: make grade SUBMISSIONS=<pasta ou .zip> [GRADES=<pasta>]" >&2; \
	  echo "Formato: <pasta>/<aluno>/<exercicio>.ipynb, ex.: entregas/maria/ex01_deteccao_anomalias.ipynb" >&2; \
	  exit 2; }

# Handouts: every lesson executed with papermill at SCALE=aula (build/html-work/) and
# exported to self-contained HTML with its plots (build/html/). `make html SCALE=ci` is quicker.
html: setup
	$(AULA10) html --scale=$(or $(SCALE),aula)

# Local daemons (coursekit/cluster/): every listener on 127.0.0.1, state/logs under build/cluster/.
cluster-up: setup
	@$(AULA10) cluster up

cluster-down:
	@$(AULA10) cluster down

connect-up: setup
	@$(AULA10) cluster connect-up

connect-down:
	@$(AULA10) cluster connect-down

history-up: setup
	@$(AULA10) cluster history-up

history-down:
	@$(AULA10) cluster history-down

# Generated output (also where lessons running in notebooks/, solutions/, exercises/ may leave it).
# Never notebooks, data samples or submissions.
GENERATED := $(BUILD) data/generated spark-warehouse metastore_db derby.log checkpoints models mlruns mlflow.db
clean:
	-@test -x $(AULA10) && $(AULA10) cluster stop-all >/dev/null 2>&1; true
	rm -rf $(GENERATED) $(foreach d,notebooks solutions exercises,$(addprefix $(d)/,$(GENERATED)))
	find . \( -path ./.venv -o -path ./.git \) -prune -o -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
