# Thin wrapper over CMake for the README's short commands.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build demo test bench bench-quick bench-smoke bench-programs install clean sanitize

all: build

build:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Benchmarks (bench/bench.py; bench/README.md): the full run writes
# bench/RESULTS.md, the quick one (about two minutes) too, the smoke one (CI)
# $(BUILD)/bench-results/RESULTS.md.  BENCH_QUICK=1 or BENCH_SMOKE=1 make
# `make bench` the quick or smoke run.
bench-programs: build
	cmake --build $(BUILD) --target bench_go

bench: bench-programs
	python3 bench/bench.py --build $(BUILD)

bench-quick: bench-programs
	python3 bench/bench.py --build $(BUILD) --mode quick

bench-smoke: bench-programs
	python3 bench/bench.py --build $(BUILD) --mode smoke

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-*
