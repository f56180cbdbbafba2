# Thin wrapper over CMake for the README's short commands.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build demo test bench bench-quick bench-smoke bench-programs install clean sanitize soak fuzz test-clients bench-clients

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

# bdwgc programs (w3m, nix, guile, ecl, ...) on the drop-in libgc.so.1;
# CLIENTS=... picks some, CLIENT_FLAGS=--install installs their packages.
test-clients: build
	tests/clients/run.sh --lib $(BUILD)/compat/bdwgc $(CLIENT_FLAGS) $(CLIENTS)

# The same programs timed under Debian's libgc.so.1 and gomem's: the
# benchmarks' clients workload alone (bench/README.md), reported in
# $(BUILD)/bench-results/clients.md so that bench/RESULTS.md stays whole.
bench-clients: build
	python3 bench/bench.py --build $(BUILD) --only clients $(if $(CLIENTS),--clients "$(CLIENTS)") \
	  --out $(BUILD)/bench-results/clients.md

install: build
	cmake --install $(BUILD)

# The torture test for SOAK_SECONDS (default 30 minutes), plain and with
# GOMEM_DEBUG=gccheckmark=1; GM_TEST_SEED replays a seed.
SOAK_SECONDS ?= 1800
soak: build
	GM_TORTURE_SECONDS=$(SOAK_SECONDS) ./$(BUILD)/test_torture
	GM_TORTURE_SECONDS=$(SOAK_SECONDS) GOMEM_DEBUG=gccheckmark=1 ./$(BUILD)/test_torture

# libFuzzer on the heap API (clang; ASan+UBSan) for FUZZ_SECONDS, from the
# seed corpus; new inputs go to build-fuzz/corpus, crashes to build-fuzz/.
FUZZ_SECONDS ?= 600
fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DGOMEM_FUZZ=ON -DGOMEM_SANITIZE=address,undefined -DGOMEM_BUILD_BENCH=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_api
	mkdir -p build-fuzz/corpus && cp -n tests/fuzz/corpus/* build-fuzz/corpus/
	cd build-fuzz && ASAN_OPTIONS=detect_stack_use_after_return=0:detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ./fuzz_api -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -print_final_stats=1 corpus

clean:
	rm -rf $(BUILD) build-*
