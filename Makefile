# Everyday commands. The build itself is CMake; this file only names the
# configurations. See README.md.
JOBS      ?= $(shell nproc)
CMAKE     ?= cmake
PREFIX    ?= /usr/local
SOURCES    = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all run deps test release-test tsan ucontext valgrind systematic fuzz bench bench-http install format check-format clean

all: build/release/.configured
	$(CMAKE) --build build/release -j $(JOBS)

# The ticket desk: console in this terminal, on the project's database
# var/support_system.db unless ARGS names another (--db PATH). The build
# is quiet: its output goes to build/make-run.log, shown only when the
# build fails.
run:
	@mkdir -p build var
	@$(MAKE) --no-print-directory all >build/make-run.log 2>&1 || { cat build/make-run.log; exit 1; }
	@build/release/bin/support_system $(if $(filter --db,$(ARGS)),,--db var/support_system.db) $(ARGS)

deps:
	@scripts/install-deps.sh

build/release/.configured:
	@scripts/install-deps.sh
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DARBOR_TESTS=OFF
	@touch $@

# Debug build under ASan + UBSan, every test case in its own process.
test: deps
	$(CMAKE) -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DARBOR_SANITIZE=address,undefined -DARBOR_WERROR=ON
	$(CMAKE) --build build/debug -j $(JOBS)
	cd build/debug && ARBOR_TEST_TIMEOUT_SCALE=$${ARBOR_TEST_TIMEOUT_SCALE:-3} \
		ctest --output-on-failure -j $(JOBS)

# The tests again, optimised and without sanitizers: the only build in
# which the runtime recycles message nodes and process blocks (recycle.c),
# so the only one that tests that code.
release-test: deps
	$(CMAKE) -S . -B build/release-test -DCMAKE_BUILD_TYPE=Release -DARBOR_WERROR=ON -DARBOR_BENCH=OFF
	$(CMAKE) --build build/release-test -j $(JOBS)
	cd build/release-test && ARBOR_TEST_TIMEOUT_SCALE=$${ARBOR_TEST_TIMEOUT_SCALE:-3} \
		ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer build of the runtime, OTP, application and HTTP tests.
tsan: deps
	$(CMAKE) -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DARBOR_SANITIZE=thread -DARBOR_WERROR=ON -DARBOR_BENCH=OFF
	$(CMAKE) --build build/tsan -j $(JOBS)
	cd build/tsan && ARBOR_TEST_TIMEOUT_SCALE=$${ARBOR_TEST_TIMEOUT_SCALE:-5} \
		ctest --output-on-failure -j $(JOBS) -L 'runtime|otp|apps|http' -E '^desk_crash_storm$$'

# (desk_crash_storm, some 4,000 crashes of a ticket's worker, outlasted its
# 180 s bound under TSan's slowdown in CI; its bound is scaled now (60 s
# times ARBOR_TEST_TIMEOUT_SCALE), but the storm ends only when the workers
# crash faster than 1,000 in 5 s, which a slow build may never do; it runs
# in the three other builds, and the chaos gate's kills run here.)

# The portable ucontext back end, under ASan + UBSan.
ucontext: deps
	$(CMAKE) -S . -B build/ucontext -DCMAKE_BUILD_TYPE=Debug -DARBOR_CONTEXT=ucontext -DARBOR_SANITIZE=address,undefined -DARBOR_WERROR=ON -DARBOR_BENCH=OFF
	$(CMAKE) --build build/ucontext -j $(JOBS)
	cd build/ucontext && ARBOR_TEST_TIMEOUT_SCALE=$${ARBOR_TEST_TIMEOUT_SCALE:-3} \
		ctest --output-on-failure -j $(JOBS) -L 'runtime|otp|apps|http'

# The runtime and HTTP tests under memcheck, but the 100k-process rings: their
# 100,000 stacks exceed valgrind's limit on mapped segments (VG_N_SEGMENTS).
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# lets a thread that computes take it again and again, so a scheduler that
# should come back for work (the scheduling tests) may never run.
valgrind: deps
	$(CMAKE) -S . -B build/valgrind -DCMAKE_BUILD_TYPE=Debug -DARBOR_BENCH=OFF
	$(CMAKE) --build build/valgrind -j $(JOBS)
	cd build/valgrind && ARBOR_TEST_TIMEOUT_SCALE=20 ARBOR_TEST_WRAPPER="valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full" \
		ctest --output-on-failure -j $(JOBS) -L 'runtime|http' -E 'stress_ring_100k|http_hello_example'

# Systematic testing (src/runtime/systematic.h), under ASan + UBSan: the
# schedulers take turns on one thread at a time in an order drawn from a
# seed, on a logical clock. The OTP scenario tests and the mode's own
# checks run once per seed 1..SEEDS, on 4 schedulers; a failure prints its
# seed and the command that reruns it. `make systematic ARBOR_SEED=N` runs
# seed N alone.
SEEDS ?= 60
SYSTEMATIC_TARGETS = test_systematic $(basename $(notdir $(wildcard tests/otp/test_*.c)))
systematic: deps
	$(CMAKE) -S . -B build/systematic -DCMAKE_BUILD_TYPE=Debug -DARBOR_SYSTEMATIC=ON -DARBOR_SANITIZE=address,undefined -DARBOR_WERROR=ON -DARBOR_BENCH=OFF
	$(CMAKE) --build build/systematic -j $(JOBS) --target $(SYSTEMATIC_TARGETS)
	ARBOR_TEST_TIMEOUT_SCALE=$${ARBOR_TEST_TIMEOUT_SCALE:-3} \
		scripts/systematic.sh build/systematic $(if $(ARBOR_SEED),$(ARBOR_SEED) $(ARBOR_SEED),1 $(SEEDS))

# The libFuzzer targets (tests/fuzz), built with clang under ASan + UBSan,
# each run for FUZZ_SECONDS; fails when one finds a crash.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(CMAKE) -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARBOR_SANITIZE=address,undefined -DARBOR_FUZZ=ON -DARBOR_BENCH=OFF
	$(CMAKE) --build build/fuzz -j $(JOBS) --target fuzz_console_line fuzz_desk_request fuzz_simple_queue_command fuzz_http_request
	scripts/fuzz.sh build/fuzz $(FUZZ_SECONDS)

bench: all
	scripts/bench.sh $(BENCH)

# http_hello against nginx and Go's net/http, 1 and 2 workers, interleaved,
# on loopback: wrk (keep-alive) and ab (a connection per request); installs
# Debian's wrk, apache2-utils, nginx-light and golang-go. See the script.
bench-http: all
	@ARBOR_WITH_HTTP_BENCH=1 scripts/install-deps.sh
	scripts/bench-http.sh

install: all
	$(CMAKE) --install build/release --prefix $(PREFIX)

format:
	clang-format -i $(SOURCES)

check-format:
	clang-format --dry-run --Werror $(SOURCES)

clean:
	rm -rf build
