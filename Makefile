# bpfvm: the two entry points are `make demo` and `make test`. Both install what they need
# (Debian packages, as root or through sudo), configure, build and run.

BUILD_DIR     ?= build
SAN_BUILD_DIR ?= build-sanitize
FUZZ_BUILD_DIR ?= build-fuzz
JOBS          ?= $(shell nproc)
FUZZ_SECONDS  ?= 60
LOADER_FUZZ_SECONDS ?= 30
VERIFIER_FUZZ_SECONDS ?= 30
CLASSIC_FUZZ_SECONDS ?= 30

# Debian 12 packages the build, tests, benchmarks and examples use.
DEBIAN_PACKAGES = build-essential cmake g++ clang llvm lld libclang-rt-14-dev \
	libgtest-dev libgmock-dev libbenchmark-dev libfmt-dev libcli11-dev nlohmann-json3-dev \
	libelf-dev libbpf-dev libpcap-dev libasmjit-dev iproute2 ninja-build tcpdump

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all demo test deps build build-sanitize test-unit test-sanitize test-tsan fuzz-smoke bench install clean

all: build

# Installs only the missing packages, so a prepared machine does not touch the network.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The sanitizer build uses clang, so every `make test` also proves the clang build is clean.
build-sanitize: deps
	cmake -S . -B $(SAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DBPFVM_SANITIZE=ON -DBPFVM_BENCH=OFF \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
	cmake --build $(SAN_BUILD_DIR) -j $(JOBS)

demo: build
	./examples/demo.sh $(BUILD_DIR)/src/cli/bpfvm

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-sanitize: build-sanitize
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(SAN_BUILD_DIR) --output-on-failure -j $(JOBS)

# The maps' concurrency stress test with the map sources under ThreadSanitizer (a small
# target of its own in the g++ build tree: TSan cannot share a build with ASan).
test-tsan: build
	cmake --build $(BUILD_DIR) -j $(JOBS) --target maps_tsan_test
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" $(BUILD_DIR)/tests/maps/maps_tsan_test

# The fuzzers share one clang build; each keeps its own corpus and crash artifacts.
fuzz-smoke: deps
	FUZZER=interpreter_fuzz BUILD_DIR=$(CURDIR)/$(FUZZ_BUILD_DIR) ./fuzz/run-smoke.sh $(FUZZ_SECONDS)
	FUZZER=jit_fuzz BUILD_DIR=$(CURDIR)/$(FUZZ_BUILD_DIR) ./fuzz/run-smoke.sh $(FUZZ_SECONDS)
	FUZZER=loader_fuzz BUILD_DIR=$(CURDIR)/$(FUZZ_BUILD_DIR) ./fuzz/run-smoke.sh $(LOADER_FUZZ_SECONDS)
	FUZZER=verifier_fuzz BUILD_DIR=$(CURDIR)/$(FUZZ_BUILD_DIR) ./fuzz/run-smoke.sh $(VERIFIER_FUZZ_SECONDS)
	FUZZER=classic_branch_free_fuzz BUILD_DIR=$(CURDIR)/$(FUZZ_BUILD_DIR) ./fuzz/run-smoke.sh $(CLASSIC_FUZZ_SECONDS)

# Everything CI runs: the tests with g++, again with clang under ASan and UBSan, the maps
# under TSan, and a short fuzzing run.
test: test-unit test-sanitize test-tsan fuzz-smoke
	@echo "make test: all test layers passed"

# Installs the library, headers, `bpfvm`, pkg-config file and CMake package under PREFIX.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

bench: build
	$(BUILD_DIR)/bench/bpfvm-bench

clean:
	rm -rf $(BUILD_DIR) $(SAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
