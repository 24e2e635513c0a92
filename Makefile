# Front door. `make demo` and `make test` work on a fresh Debian machine (as root).
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: deps build demo test asan-build asan-test bench chaos soak clean

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 $(CTEST_ARGS)

$(ASAN_DIR)/build.ninja: | deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Asan

asan-build: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

asan-test: asan-build
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ctest --output-on-failure -j 2 $(CTEST_ARGS)

bench: build
	@scripts/bench.sh $(BUILD_DIR)

# The long form of the chaos suite (tests/chaos/); its counts go to docs/chaos.md.
chaos: build
	@scripts/chaos.sh $(BUILD_DIR)

# The long form of the memory-budget soak test (tests/soak_test.cc): an hour; see bench/README.md.
soak: build
	@scripts/soak.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
