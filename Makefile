# One entry point for people and CI. `make run` starts the stack, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON ?= python3

.PHONY: help run test test-rust test-deploy rehearse lint fmt soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## Run bird, bird-image and frontend in one process (offline without UNSPLASH_ACCESS_KEY)
	cargo run --release --locked -p stack

test: test-rust test-deploy ## Run every test suite

test-rust: ## Unit, integration and browser tests of the services
	cargo test --workspace --locked

# cargo-deny reads every crate of Cargo.lock, those of other platforms (Windows) too, which a
# Linux build never downloads: fetch them first (no network once they are cached).
test-deploy: $(VENV)/.installed ## Chart, infrastructure, container and CI checks
	cargo fetch --locked
	$(VENV)/bin/pytest tests

rehearse: $(VENV)/.installed ## terraform apply and destroy of infrastructure/ against the moto AWS emulator
	@summary=$$(mktemp) && REHEARSAL_SUMMARY=$$summary $(VENV)/bin/pytest tests/infra/test_infra_rehearsal.py -q \
		&& cat $$summary; status=$$?; rm -f $$summary; exit $$status

lint: ## Formatting and clippy, as CI runs them
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the Rust code
	cargo fmt --all

# checkov gets a virtualenv of its own (tests/requirements-checkov.txt says why), reached as
# .venv/bin/checkov like the other tools.
$(VENV)/.installed: tests/requirements.txt tests/requirements-checkov.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/requirements.txt
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet -r tests/requirements-checkov.txt
	ln -sf ../checkov/bin/checkov $(VENV)/bin/checkov
	touch $@

# Container images for the local Docker engine (docker/README.md). The three builds share one
# cached build stage, so `make images` compiles the workspace once.
IMAGE_NAMESPACE ?= bird
IMAGE_TAG ?= local

.PHONY: images image-bird image-bird-image image-frontend

images: image-bird image-bird-image image-frontend ## Build the three container images

image-bird: ## Build the bird-api image
image-bird-image: ## Build the bird-image-api image
image-frontend: ## Build the bird-frontend image
image-bird: IMAGE := bird-api
image-bird-image: IMAGE := bird-image-api
image-frontend: IMAGE := bird-frontend
image-bird image-bird-image image-frontend:
	docker buildx build --file docker/Dockerfile --target $(IMAGE) \
		--tag $(IMAGE_NAMESPACE)/$(IMAGE):$(IMAGE_TAG) --load .

# The chart on a laptop Kubernetes (kind/cluster.py; bird-chart/README.md). Needs Docker, kind,
# kubectl and helm; kind/cluster.py itself runs in a virtualenv of its own with PyYAML.
CLUSTER_VENV := $(VENV)/cluster
CLUSTER_ARGS ?=

.PHONY: cluster cluster-delete

cluster: $(CLUSTER_VENV)/.installed ## Build the images, run them on a kind cluster and check the chart there; CLUSTER_ARGS="--dry-run" prints the plan
	$(CLUSTER_VENV)/bin/python kind/cluster.py up $(CLUSTER_ARGS)

cluster-delete: $(CLUSTER_VENV)/.installed ## Delete the kind cluster of `make cluster`
	$(CLUSTER_VENV)/bin/python kind/cluster.py delete

$(CLUSTER_VENV)/.installed: kind/requirements.txt
	$(PYTHON) -m venv $(CLUSTER_VENV)
	$(CLUSTER_VENV)/bin/pip install --quiet -r kind/requirements.txt
	touch $@

# Benchmark (bench/README.md): needs wrk (Debian: apt-get install -y wrk). Figures, no assertions.
.PHONY: bench

bench: ## Benchmark the release stack under load; BENCH_ARGS="--quick" for a smoke run
	$(PYTHON) bench/run.py $(BENCH_ARGS)

soak: ## Ten minutes at half the measured maximum load, memory per minute; SOAK_ARGS="--minutes 1"
	$(PYTHON) bench/soak.py $(SOAK_ARGS)
