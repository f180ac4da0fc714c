# gpuscope - the two commands a fresh Debian 12 machine needs:
#   make run    install what is missing, build, start `gpuscope serve`
#               (on the simulator, with a loud banner, when no NVIDIA driver is present)
#   make test   install what is missing, build, run every test (also under ASan/UBSan)
# Other targets: make (build), make test-fast, make test-tsan, make fuzz, make bench,
# make docs, make deb (a Debian package, deploy/README.md), make format, make clean.

BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
ARGS ?=

.PHONY: all build run test test-fast test-tsan fuzz bench docs deb format clean deps-build deps-test

all: build

deps-build:
	@bash scripts/deps.sh build

deps-test:
	@bash scripts/deps.sh test
	@bash scripts/deps.sh web

build: deps-build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash scripts/run.sh $(BUILD) $(ARGS)

# The normal build first, then the whole suite again under ASan/UBSan, then every fuzz
# target for 20 s under ASan/UBSan from a fixed seed (clang's libFuzzer; fuzz/README.md).
test: deps-test
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUSCOPE_REQUIRE_TESTS=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DGPUSCOPE_SANITIZE=ON -DGPUSCOPE_REQUIRE_TESTS=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)
	@FUZZ_SEED=1 bash scripts/fuzz.sh --if-available 20

# One pass, no sanitizers: for the edit-compile-test loop.
test-fast: deps-test
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUSCOPE_REQUIRE_TESTS=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The suite under ThreadSanitizer.  Not part of `make test`: gcc 12's TSan
# runtime aborts on kernels with high mmap randomisation (vm.mmap_rnd_bits > 28).
test-tsan: deps-test
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DGPUSCOPE_TSAN=ON -DGPUSCOPE_REQUIRE_TESTS=ON >/dev/null
	@cmake --build $(BUILD_TSAN) -j $(JOBS)
	@cd $(BUILD_TSAN) && ctest --output-on-failure -j $(JOBS)

# Every fuzz target for FUZZ_SECONDS (60) each; needs clang and libclang-rt-14-dev.
fuzz: deps-test
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench:
	@bash scripts/deps.sh bench
	@bash bench/run.sh

docs: build
	@$(BUILD)/gen_metrics_doc > docs/metrics.md
	@$(BUILD)/gpuscope export rules --names native --output deploy/prometheus/gpuscope-rules.yml
	@$(BUILD)/gpuscope export rules --names dcgm --output deploy/prometheus/dcgm-rules.yml
	@$(BUILD)/gpuscope export grafana --output deploy/grafana/gpuscope.json

# The Debian package from the build tree: $(BUILD)/gpuscope_VERSION_ARCH.deb.
deb: build
	@bash scripts/deps.sh deb
	@bash deploy/debian/build-deb.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) build-fuzz
