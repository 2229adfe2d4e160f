# SPDX-License-Identifier: MIT
#
# The short commands, in front of CMake:
#   make demo           build and run the tour: every pattern of the asyncio guide
#   make test           build and run every test (plus the sanitizer suite: make test-asan)
#   make bench [W=name] run the benchmarks beside their peers
#   make tidy           clang-tidy over src/ (.clang-tidy; any warning fails)
#   make serve          the guide's FastAPI demo service (PORT=8000, WORKERS=n loops)
#   make install        headers, libraries, cio.pc, CMake package (PREFIX=/usr/local, DESTDIR)
#   make uninstall      removes what the last install put (build/install_manifest.txt)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all demo serve install uninstall test fuzz tidy docs test-asan test-tsan test-valgrind test-ucontext test-aarch64 test-parts test-clock-offset test-eintr test-ktls test-tiny bench format check-format clean

all: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory >$(BUILD)/build.log 2>&1 || { cat $(BUILD)/build.log; exit 1; }

$(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_WERROR=ON $(CMAKE_FLAGS) >/dev/null

demo: all
	@$(BUILD)/examples/tour

# The guide's FastAPI demo service, in the foreground (PORT, default 8000).
PORT ?= 8000
# HTTPS: TLS_CERT=cert.pem TLS_KEY=key.pem (PEM files; without them it says
# how to make a self-signed pair).  DATABASE_URL=... (libpq's conninfo) adds
# the /db/users routes (docs/pg.md).
# WORKERS=n: n loops on n threads sharing the port (0: one per CPU).
serve: all
	@TLS_CERT="$(TLS_CERT)" TLS_KEY="$(TLS_KEY)" WORKERS="$(WORKERS)" $(BUILD)/examples/fastapi_demo $(PORT)

# Installs the library into PREFIX (default /usr/local), staged under DESTDIR
# if set (for packagers: cio.pc then still names PREFIX).  Builds only the
# library; the list of files installed goes to $(BUILD)/install_manifest.txt.
PREFIX ?= /usr/local
install:
	@test -f $(BUILD)/CMakeCache.txt || $(MAKE) --no-print-directory $(BUILD)/Makefile
	@cmake --build $(BUILD) --target cio_static cio_shared -j $(JOBS) >$(BUILD)/install.log 2>&1 || { cat $(BUILD)/install.log; exit 1; }
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Removes every file the last `make install` wrote (give the same DESTDIR:
# the manifest lists paths under PREFIX), then cio's own directories if they
# are left empty (include/cio, lib/cmake/cio).
uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing to uninstall: no $(BUILD)/install_manifest.txt (make install writes it)"; exit 1; }
	@while IFS= read -r f || [ -n "$$f" ]; do f="$(DESTDIR)$$f"; \
	  if [ -e "$$f" ] || [ -L "$$f" ]; then rm -f "$$f" && echo "-- Removed: $$f"; fi; \
	  case "$$f" in */include/cio/*|*/cmake/cio/*) rmdir "$${f%/*}" 2>/dev/null || true;; esac; \
	done <$(BUILD)/install_manifest.txt
	@rm -f $(BUILD)/install_manifest.txt

test: all
	@cd $(BUILD) && ctest --output-on-failure -j 2

# The checks of how the library is built and shipped (installing it for
# outside projects, the layers, the exported symbols, the compiler's warning
# on a forgotten await) answer the same under every variant below, so only
# `make test` runs them.
BUILD_SHAPE_TESTS = ^consumer$$|^layers$$|^exports$$|^compile_

# The whole suite under ASan+UBSan (fiber-annotated switches).  The heavy
# cases run scaled down: ASan's shadow memory makes a million stacks costly.
test-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=address,undefined -DCIO_WERROR=ON -DCIO_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && CIO_TEST_SCALE=0.05 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2

# The suite under ThreadSanitizer (fiber-annotated switches).  TSan counts
# each task as a thread and stops at 8,128, so heavy cases run scaled down.
test-tsan:
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=thread -DCIO_WERROR=ON -DCIO_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && CIO_TEST_SCALE=0.005 CIO_TEST_TIMEOUT_MULT=5 ctest --output-on-failure -j 2

# The suite under valgrind memcheck (scaled down, longer timeouts).
# A memcheck error makes the case's process exit 9, which fails the case.
# Two binaries at a time (valgrind runs a process's threads one at a time);
# each one's output is printed whole when it ends.
test-valgrind: all
	@ls $(BUILD)/tests/test_* | xargs -P 2 -I{} sh -c 'log=$$(mktemp); \
	  CIO_TEST_SCALE=0.01 CIO_TEST_TIMEOUT_MULT=20 valgrind --quiet --error-exitcode=9 --suppressions=tests/valgrind.supp --show-possibly-lost=no \
	    --leak-check=full --errors-for-leak-kinds=definite {} >$$log 2>&1; rc=$$?; echo "--- {}"; cat $$log; rm -f $$log; exit $$rc'

# The suite with the monotonic clock 4 * 10^9 s ahead (a time namespace;
# int64 nanoseconds end at 9.2 * 10^9 s), to flush out deadline overflow.
test-clock-offset: all
	@if unshare -rT --monotonic=1 true 2>/dev/null; then \
	  cd $(BUILD) && unshare -rT --monotonic=4000000000 ctest --output-on-failure -j 2 -E '$(BUILD_SHAPE_TESTS)|^fastapi_docs_browser$$'; \
	else echo "skipped: this system does not allow time namespaces (unshare -rT)"; fi

# The suite under an EINTR storm (strace fault injection): every third
# socket read/write, accept, connect and poll fails with EINTR.
test-eintr: all
	@tools/eintr-storm.sh $(BUILD)

# Kernel TLS under a kernel that has it: Debian's cloud kernel in qemu
# (tools/ktls-vm.sh; needs qemu-system-x86 and busybox-static).
test-ktls: all
	@tools/ktls-vm.sh $(BUILD)

# The suite with every internal buffer, batch and threshold shrunk
# (src/tune.h), so that rare paths run in every test.
# The library and the examples built with optional parts left out, warnings
# failing: without Jansson (the others found), and with none of them.
# (fastapi_demo once failed to build without Jansson.)
test-parts:
	@for parts in "-DCIO_WITH_JANSSON=OFF" \
	  "-DCIO_WITH_JANSSON=OFF -DCIO_WITH_OPENSSL=OFF -DCIO_WITH_CURL=OFF -DCIO_WITH_PQ=OFF"; do \
	  rm -rf build-parts && \
	  cmake -S . -B build-parts -DCIO_WERROR=ON -DCIO_BUILD_TESTS=OFF -DCIO_BUILD_BENCH=OFF $$parts >/dev/null && \
	  cmake --build build-parts -j $(JOBS) >build-parts/build.log 2>&1 || { cat build-parts/build.log; echo "failed to build with $$parts"; exit 1; }; \
	  echo "built with $$parts"; done; rm -rf build-parts

test-tiny:
	@cmake -S . -B build-tiny -DCIO_TINY=ON -DCIO_WERROR=ON -DCIO_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-tiny -j $(JOBS)
	@cd build-tiny && ctest --output-on-failure -j 2 -E '$(BUILD_SHAPE_TESTS)'

# The portable ucontext fallback instead of the assembly switch.
test-ucontext:
	@cmake -S . -B build-ucontext -DCIO_CONTEXT=ucontext -DCIO_WERROR=ON -DCIO_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-ucontext -j $(JOBS)
	@cd build-ucontext && CIO_TEST_SCALE=0.1 ctest --output-on-failure -j 2 -E '$(BUILD_SHAPE_TESTS)'

# The AArch64 context switch and the suite, cross-built and run under
# qemu-user (installs Debian's cross toolchain and qemu-user if missing).
test-aarch64:
	@tools/test-aarch64.sh

# The HTTP fuzzers, the parser, the whole server and the client (with
# libcurl), FUZZ_SECONDS each
# (default 120), from the corpora in fuzz/corpus/, after a replay of every
# regression input (fuzz/regression/) through both, built with clang's
# sanitizers.  A crash fails the target and its input lands in fuzz/crashes/
# (libFuzzer's crash-, leak-, timeout- or oom- file); fuzz/regression/README.md
# says how to keep it as a regression input, with the fix.
FUZZ_SECONDS ?= 120
# The client's target exists where libcurl does.
FUZZ_CLIENT = $(shell pkg-config --exists 'libcurl >= 7.80' 2>/dev/null && echo fuzz_http_client)
FUZZ_REGRESSION = $(sort $(filter-out %/README.md,$(wildcard fuzz/regression/*)))
FUZZ_FOUND = { echo "the input is in fuzz/crashes/ (above); to keep it: fuzz/regression/README.md"; exit 1; }
fuzz:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCIO_FUZZ=ON -DCIO_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz --target fuzz_http fuzz_http_server $(FUZZ_CLIENT) -j $(JOBS) >/dev/null
	@mkdir -p fuzz/crashes build-fuzz/corpus build-fuzz/corpus-server
	@echo "-- the regression inputs, once each through both fuzzers"
	@for t in fuzz_http fuzz_http_server; do \
	  build-fuzz/fuzz/$$t -artifact_prefix=build-fuzz/ $(FUZZ_REGRESSION) >build-fuzz/regression.log 2>&1 \
	    || { tail -n 30 build-fuzz/regression.log; echo "a regression input fails $$t again"; exit 1; }; done
	@echo "-- the request and response parsers and the chunked decoder, $(FUZZ_SECONDS) s"
	@build-fuzz/fuzz/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  -artifact_prefix=fuzz/crashes/ build-fuzz/corpus fuzz/corpus/http fuzz/corpus/http_client >build-fuzz/parser.log 2>&1; \
	  rc=$$?; tail -n 12 build-fuzz/parser.log; [ $$rc = 0 ] || $(FUZZ_FOUND)
	@echo "-- the whole server over a loopback connection, $(FUZZ_SECONDS) s"
	@build-fuzz/fuzz/fuzz_http_server -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=30 \
	  -print_final_stats=1 -artifact_prefix=fuzz/crashes/ build-fuzz/corpus-server \
	  fuzz/corpus/http_server fuzz/corpus/http >build-fuzz/server.log 2>&1; \
	  rc=$$?; tail -n 12 build-fuzz/server.log; [ $$rc = 0 ] || $(FUZZ_FOUND)
	@if [ -n "$(FUZZ_CLIENT)" ]; then \
	  echo "-- the HTTP client against fuzzed answers, $(FUZZ_SECONDS) s"; \
	  mkdir -p build-fuzz/corpus-client; \
	  build-fuzz/fuzz/fuzz_http_client -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=30 \
	    -print_final_stats=1 -artifact_prefix=fuzz/crashes/ build-fuzz/corpus-client \
	    fuzz/corpus/http_client >build-fuzz/client.log 2>&1; \
	  rc=$$?; tail -n 12 build-fuzz/client.log; [ $$rc = 0 ] || $(FUZZ_FOUND); \
	else echo "-- no HTTP client fuzzing: cio is built without libcurl"; fi

# clang-tidy (.clang-tidy: the checks, and why each one off is off) over
# every library source the build compiles, and through them cio's headers,
# with the build's own flags (its compile_commands.json); any warning
# fails.  One clang-tidy per file, JOBS at a time, largest first (about a
# minute on two loaded cores).
TIDY ?= $(firstword $(shell command -v clang-tidy clang-tidy-14 2>/dev/null))
tidy:
	@test -n "$(TIDY)" || { echo "make tidy needs clang-tidy (apt-get install clang-tidy)"; exit 1; }
	@test -f $(BUILD)/compile_commands.json || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@sed -n 's|^ *"file": "\($(CURDIR)/src/[^"]*\.c\)",\{0,1\}$$|\1|p' $(BUILD)/compile_commands.json | sort -u \
	  | xargs -r ls -S | xargs -r -n 1 -P $(JOBS) $(TIDY) -p $(BUILD) --quiet >$(BUILD)/tidy.log 2>&1; \
	  rc=$$?; grep -v '^[0-9]* warnings\{0,1\} generated\.$$' $(BUILD)/tidy.log; \
	  if [ $$rc = 0 ]; then echo "clang-tidy: $$(grep -c '"file": "$(CURDIR)/src/' $(BUILD)/compile_commands.json) sources clean"; fi; exit $$rc

# The API reference from the headers' comments (Doxygen; warnings fail).
docs:
	@command -v doxygen >/dev/null || { echo "make docs needs doxygen (apt-get install doxygen)"; exit 1; }
	@doxygen docs/Doxyfile && echo "API reference: build-docs/html/index.html"

bench: all
	@bench/run.sh $(BUILD) $(W)

format:
	@clang-format -i $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')

check-format:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan build-ucontext build-fuzz build-docs
