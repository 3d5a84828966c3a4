# The course's two commands:
#   make course   set up, execute every notebook headlessly, render the handouts into build/
#   make test     set up, run the whole test suite (unit, reliability, notebook tests)
# Options: PROFILE=quick|full (default quick), NB=03 (run only matching notebooks), KEEP_GOING=1.
PROFILE ?= quick
NB ?=
SHELL := /bin/bash
# One glibc malloc arena: with the native backend's output-buffer pool, per-thread arenas of the
# OpenMP workers cost ~100-200 MB of peak RSS for no speed (native/README.md).
export MALLOC_ARENA_MAX ?= 1

.PHONY: setup course test bench jupyter demo clean rehearsal
setup:
	@bash kernel-setup/setup.sh

course: setup
	/usr/bin/python3 tools/run_notebooks.py --profile $(PROFILE) $(if $(KEEP_GOING),--keep-going) $(NB)

# The full profile's code on miniature stand-ins of its downloads, served from a loopback mirror (tools/rehearsal/),
# into build/rehearsal/; results are labelled full-rehearsal. Needs TL_CACHE_DIR (the pre-filled cache) for one topology.
rehearsal: setup
	/usr/bin/python3 tools/rehearsal/run.py $(if $(KEEP_GOING),--keep-going) $(NB)

test: setup
	npx --no-install vitest run

bench: setup
	npm run bench

# Interactive Jupyter on the notebooks: loopback only, with a token (printed on start).
# Extra options for `jupyter notebook`: make jupyter ARGS="--port 9999"
ARGS ?=
jupyter:
	@bash kernel-setup/jupyter.sh $(ARGS)

# The browser demo (built by `make course` into build/handouts/demo/): rebuild it from build/models/ and serve it on
# 127.0.0.1 (PORT=8765 by default).
PORT ?= 8765
demo: setup
	node tools/build_demo.mjs
	node tools/serve_demo.mjs --port $(PORT)

clean:
	rm -rf build src/helpers/dist native/build
