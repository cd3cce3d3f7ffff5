# mird: the front door.
#   make          install missing Debian build deps, build build/libmird.a and build/mird
#   make test     also build the test suite twice (optimised, and address+undefined sanitizers) and run it
#   make demo     the main job: synthetic benchmark, train, report (see README)
# Options: BLAS=dnnl (default, measured fastest here) or BLAS=openblas; CC=clang works too;
#          MPI=1 (default: Open MPI, docs/distributed.md) or MPI=0 (no MPI, single process only).

# the first rule below (comm.o's MPI stamp) must not become the default goal
.DEFAULT_GOAL := all

CC      := gcc
BLAS    ?= dnnl
OPT     ?= -O2 -march=native
WARN    := -Wall -Wextra
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -fno-math-errno $(WARN) -fopenmp -Isrc -MMD -MP $(EXTRA_CFLAGS)
LDLIBS  := -lutf8proc -ljansson -lnettle -lm -lpthread
ifeq ($(BLAS),openblas)
  CFLAGS += -DMIRD_BLAS_OPENBLAS
  LDLIBS := -lopenblas $(LDLIBS)
else
  LDLIBS := -ldnnl $(LDLIBS)
endif
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_SUP := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
TESTS    := $(patsubst tests/%.c,%,$(TEST_SRC))

B := build
A := build/asan

# ---- MPI (docs/distributed.md): MPI=1 (default) builds src/core/comm.c against Open MPI and links it;
# MPI=0 builds comm.c's serial implementation and links no MPI. Flags from pkg-config, else Debian's
# Open MPI paths (scripts/deps.sh installs libopenmpi-dev, after this file is read on a bare machine).
# build/.mpi remembers the last MPI value, so switching it rebuilds comm.o and relinks.
MPI ?= 1
MPI_STAMP := $(shell mkdir -p $(B) && f=$(B)/.mpi; [ "$$(cat $$f 2>/dev/null)" = "$(MPI)" ] || echo "$(MPI)" > $$f; echo $$f)
$(B)/obj/src/core/comm.o $(A)/obj/src/core/comm.o: $(MPI_STAMP) | deps
ifeq ($(MPI),1)
  # Debian's multiarch triplet (amd64, arm64), found without running the compiler before deps
  MPI_ARCH   := $(shell uname -m)-linux-gnu
  MPI_CFLAGS ?= $(or $(shell pkg-config --cflags ompi-c 2>/dev/null),-I/usr/lib/$(MPI_ARCH)/openmpi/include)
  MPI_LIBS   ?= $(or $(shell pkg-config --libs ompi-c 2>/dev/null),-L/usr/lib/$(MPI_ARCH)/openmpi/lib -lmpi)
  LDLIBS     += $(MPI_LIBS)
  $(B)/obj/src/core/comm.o $(A)/obj/src/core/comm.o: CFLAGS += -DMIRD_MPI $(MPI_CFLAGS)
endif

.SECONDARY:
.PHONY: all deps test-deps test tests demo clean
all: deps $(B)/mird

deps:
	@scripts/deps.sh
# after deps: two apt-get runs at once (make -j) would fight over dpkg's lock
test-deps: deps
	@scripts/deps.sh --test

# Every compile waits for the dependency step (order-only: it never makes an object out of date),
# so that `make -jN` on a bare machine installs the headers before the first compile needs them.

# ---- optimised build
$(B)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(B)/libmird.a: $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
$(B)/mird: $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRC)) $(B)/libmird.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/tests/%: $(B)/obj/tests/%.o $(patsubst %.c,$(B)/obj/%.o,$(TEST_SUP)) $(B)/libmird.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ -lcmocka $(LDLIBS)

# ---- sanitizer build (address + undefined) of the library and the tests
$(A)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -c $< -o $@
$(A)/libmird.a: $(patsubst %.c,$(A)/obj/%.o,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
$(A)/mird: $(patsubst %.c,$(A)/obj/%.o,$(CLI_SRC)) $(A)/libmird.a
	$(CC) $(CFLAGS) $(SANFLAGS) $^ -o $@ $(LDLIBS)
$(A)/tests/%: $(A)/obj/tests/%.o $(patsubst %.c,$(A)/obj/%.o,$(TEST_SUP)) $(A)/libmird.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $^ -o $@ -lcmocka $(LDLIBS)

tests: $(addprefix $(B)/tests/,$(TESTS)) $(addprefix $(A)/tests/,$(TESTS)) $(B)/mird $(A)/mird

test: deps test-deps
	@$(MAKE) --no-print-directory tests
	@tests/run.sh $(B) $(A)

demo: all
	@scripts/demo.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# GEMM throughput probe (mird's matmul beside dnnl_sgemm and OpenBLAS on BERT-sized shapes)
.PHONY: gemm-probe
gemm-probe: deps $(B)/gemm_probe
$(B)/gemm_probe: $(B)/obj/tools/gemm_probe.o $(B)/libmird.a
	$(CC) $(CFLAGS) $^ -o $@ -lopenblas $(LDLIBS)

# libFuzzer targets: make fuzz, make fuzz-smoke SECONDS=N (fuzz/README.md)
include fuzz/fuzz.mk

# ---- the C API (include/mird.h) as build/libmird.so, for python/mird and examples/
# The shared library has its own tree of position-independent objects (build/pic), so the program's
# objects and their speed stay as they are; -fno-semantic-interposition keeps calls between the
# library's functions direct and inlinable. The version script exports only include/mird.h.
CFLAGS += -Iinclude
P := build/pic
all: $(B)/libmird.so $(B)/examples/predict
tests: $(B)/libmird.so $(B)/examples/predict
$(P)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fno-semantic-interposition -c $< -o $@
$(B)/libmird.so: $(patsubst %.c,$(P)/obj/%.o,$(LIB_SRC)) src/api/libmird.map
	$(CC) $(CFLAGS) -shared -Wl,--version-script=src/api/libmird.map -Wl,-soname,libmird.so -Wl,--no-undefined \
	    $(filter %.o,$^) -o $@ $(LDLIBS)
# the example sees nothing but the public header and the shared library
$(B)/examples/%: examples/%.c include/mird.h $(B)/libmird.so
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -pedantic -O2 -Wall -Wextra -Werror -Iinclude $< -o $@ -L$(B) -lmird -Wl,-rpath,'$$ORIGIN/..'
