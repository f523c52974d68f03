# A thin wrapper over CMake (the one build definition). Every target installs what it needs
# first (scripts/install-deps: instant when nothing is missing).
#
#   make                  build in build/ (Ninja, RelWithDebInfo)
#   make test             every test, in this order (each also a target of its own):
#                         test-unit (ctest in build/), test-asan (ASan+UBSan build, whole
#                         suite), test-tsan (TSan build, ctest -L threads), install-test
#                         (scripts/test-install.sh), test-openssl (the secure layer's, TLS's
#                         and the idle-memory tests with -DTRUFLUX_CRYPTO=openssl in
#                         build-openssl/), fuzz for
#                         FUZZ_SMOKE_SECONDS=5 per target
#   make run [PORT=7000] [WEB_PORT=8080]  run the server of the truflux CLI on
#                         127.0.0.1:$(PORT), its chat page on http://127.0.0.1:$(WEB_PORT)/
#   make bench [BENCH_ARGS=...] [BENCH_FILE_SIZE=1G]
#   make install [PREFIX=/usr/local] [DESTDIR=]
#   make fuzz [FUZZ_SECONDS=60]
#   make soak [SOAK_CLIENTS=10000] [SOAK_SECONDS=60]  load at full scale: tests/load/soak.sh
#                         (docs/RELIABILITY.md); `make test` runs it small (test_load.sh)
#   make clean
#
# Directory variables (BUILD_DIR=build, and ASAN_DIR, TSAN_DIR, FUZZ_DIR derived from it)
# let several builds share a source tree.

BUILD_DIR ?= build
ASAN_DIR ?= $(BUILD_DIR)-asan
TSAN_DIR ?= $(BUILD_DIR)-tsan
OPENSSL_DIR ?= $(BUILD_DIR)-openssl
FUZZ_DIR ?= $(BUILD_DIR)-fuzz
BUILD_TYPE ?= RelWithDebInfo
# Sanitizer builds: assertions on (no NDEBUG), and -O1, which ASan/UBSan compile about twice
# as fast as -O2 while the tests still run at a fair speed.
SAN_FLAGS ?= -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
  -DCMAKE_CXX_FLAGS_DEBUG="-g -O1"
JOBS ?= 2
PREFIX ?= /usr/local
DESTDIR ?=
PORT ?= 7000
WEB_PORT ?= 8080
BENCH_ARGS ?=
BENCH_FILE_SIZE ?= 1G
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
SOAK_CLIENTS ?= 10000
SOAK_SECONDS ?= 60
CMAKE ?= cmake
CTEST ?= ctest
# Extra -D options for every configuration, e.g. CMAKE_ARGS=-DTRUFLUX_EXAMPLES=OFF
CMAKE_ARGS ?=
FUZZ_CC ?= clang-14
FUZZ_CXX ?= clang++-14

TRUFLUX_BIN = $(BUILD_DIR)/tools/truflux
# Ninja for a fresh build directory; an existing one keeps the generator it was made with.
generator = $(if $(wildcard $(1)/CMakeCache.txt),,-G Ninja)
configure = $(CMAKE) -S . -B $(1) $(call generator,$(1)) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
  $(CMAKE_ARGS)
CTEST_FLAGS = --output-on-failure -j $(JOBS)
# Marks each step in the log, with the time, so a slow or failing step is easy to find.
banner = @echo "==> $@ [$$(date +%H:%M:%S)]"

# Each step drives its own CMake build, which parallelises internally (-j$(JOBS)); running
# steps side by side would only oversubscribe the machine and interleave their output.
.NOTPARALLEL:
.PHONY: all build build-openssl install-deps test test-unit test-asan test-tsan install-test test-openssl run bench \
        bench-deps install fuzz fuzz-build clean soak

all: build

install-deps:
	@bash scripts/install-deps

build: install-deps
	$(call configure,$(BUILD_DIR)) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	$(CMAKE) --build $(BUILD_DIR) -j $(JOBS)

test: FUZZ_SECONDS = $(FUZZ_SMOKE_SECONDS)
test: test-unit test-asan test-tsan install-test test-openssl fuzz

test-unit: build
	$(banner)
	cd $(BUILD_DIR) && $(CTEST) $(CTEST_FLAGS) --no-tests=error

test-asan: install-deps
	$(banner)
	$(call configure,$(ASAN_DIR)) $(SAN_FLAGS) -DTRUFLUX_SANITIZE=address,undefined
	$(CMAKE) --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && $(CTEST) $(CTEST_FLAGS) --no-tests=error

# Only the thread tests: they are what TSan is for, and they alone are built.
test-tsan: install-deps
	$(banner)
	$(call configure,$(TSAN_DIR)) $(SAN_FLAGS) -DTRUFLUX_SANITIZE=thread -DTRUFLUX_EXAMPLES=OFF
	$(CMAKE) --build $(TSAN_DIR) -j $(JOBS) --target threads_tests
	cd $(TSAN_DIR) && $(CTEST) $(CTEST_FLAGS) -L threads

install-test: build
	$(banner)
	bash scripts/test-install.sh $(BUILD_DIR)

# The other crypto backend: the Noise vectors, the primitives' known answers, the secure
# layer's tests and TLS's (whose records the backend seals), built against OpenSSL's
# libcrypto (docs/CRYPTO.md).
test-openssl: install-deps
	$(banner)
	$(call configure,$(OPENSSL_DIR)) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTRUFLUX_CRYPTO=openssl \
	  -DTRUFLUX_EXAMPLES=OFF
	$(CMAKE) --build $(OPENSSL_DIR) -j $(JOBS)
	cd $(OPENSSL_DIR) && $(CTEST) $(CTEST_FLAGS) --no-tests=error -R 'noise|crypto|secure|tls|wss|idle_memory'

run: build
	exec $(TRUFLUX_BIN) serve --tcp 127.0.0.1:$(PORT) --web 127.0.0.1:$(WEB_PORT)

# The peers' packages first (scripts/bench-deps), so that configuring finds their libraries.
# Both crypto backends in one run: every truflux system also runs from the OpenSSL build, as
# NAME@alt, each compared with the AES-GCM floor of its own backend. Then file throughput
# (one BENCH_FILE_SIZE file per sample, with message roundtrips meanwhile) from each build.
bench: bench-deps build build-openssl
	$(TRUFLUX_BIN) bench --alt-exe $(OPENSSL_DIR)/tools/truflux $(BENCH_ARGS)
	$(TRUFLUX_BIN) bench --files $(BENCH_FILE_SIZE)
	$(OPENSSL_DIR)/tools/truflux bench --files $(BENCH_FILE_SIZE) \
	  --systems truflux-tcp-aesgcm,truflux-tcp-chachapoly

build-openssl: install-deps
	$(call configure,$(OPENSSL_DIR)) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTRUFLUX_CRYPTO=openssl \
	  -DTRUFLUX_EXAMPLES=OFF
	$(CMAKE) --build $(OPENSSL_DIR) -j $(JOBS) --target truflux_cli

bench-deps: install-deps
	@bash scripts/bench-deps

install: build
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD_DIR) --prefix $(PREFIX)

fuzz-build: install-deps
	$(banner)
	CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) $(call configure,$(FUZZ_DIR)) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DTRUFLUX_FUZZ=ON \
	  -DTRUFLUX_TESTS=OFF -DTRUFLUX_TOOLS=OFF -DTRUFLUX_EXAMPLES=OFF
	$(CMAKE) --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_all

fuzz: fuzz-build
	$(banner)
	bash scripts/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

soak: build
	$(banner)
	SOAK_CLIENTS=$(SOAK_CLIENTS) SOAK_SECONDS=$(SOAK_SECONDS) bash tests/load/soak.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR) $(OPENSSL_DIR)

# The Python package (bindings/python), built by pip into the venv $(PY_VENV):
# `. $(PY_VENV)/bin/activate` and `import truflux`. Its CMake build stays in
# $(BUILD_DIR)/python-build, so a second run recompiles only what changed. `make test` runs
# its tests (ctest: tests/test_python_module.sh).
PY_VENV ?= $(BUILD_DIR)/venv
.PHONY: python
python: install-deps
	$(banner)
	test -x $(PY_VENV)/bin/python || python3 -m venv $(PY_VENV)
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY_VENV)/bin/python -m pip install \
	  --config-settings=build-dir=$(abspath $(BUILD_DIR))/python-build ./bindings/python
	@echo "truflux for Python is installed in $(PY_VENV): . $(PY_VENV)/bin/activate"
