# Thin wrapper over CMake for the README's short commands.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build demo test bench install clean sanitize test-clients bench-clients

all: build

build:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	./bench/run.sh $(BUILD)

# bdwgc programs (w3m, nix, guile, ecl, ...) on the drop-in libgc.so.1;
# CLIENTS=... picks some, CLIENT_FLAGS=--install installs their packages.
test-clients: build
	tests/clients/run.sh --lib $(BUILD)/compat/bdwgc $(CLIENT_FLAGS) $(CLIENTS)

bench-clients: build
	tests/clients/bench.sh --lib $(BUILD)/compat/bdwgc $(CLIENT_FLAGS) $(CLIENTS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-*
