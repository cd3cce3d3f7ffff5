# fuzz/fuzz.mk: libFuzzer targets for every parser of untrusted input (see fuzz/README.md).
#   make fuzz                      build build/fuzz/fuzz_<target> (clang, -fsanitize=fuzzer,address,undefined)
#   make fuzz-smoke SECONDS=N      run each target N seconds on its corpus, then replay fuzz/regressions/
#   make fuzz-regress              only replay fuzz/regressions/<target>/* (every input once)
#   make fuzz-run TARGET=pickle SECONDS=600   one longer campaign (new inputs go to build/fuzz/corpus/)
# Needs clang and libclang-rt-14-dev (scripts/deps.sh --test installs them).
# The library is rebuilt with clang into build/fuzz/obj (-fopenmp=libgomp: OpenMP pragmas off, single-threaded, the
# omp_* calls resolved by GCC's libgomp); the optimised / sanitizer builds of the Makefile are untouched.

FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# OpenMP pragmas are not compiled here, so a variable used only in an `if(...)` clause looks unused.
FUZZ_COMPAT  := -Wno-unused-but-set-variable -Wno-unused-variable
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -fopenmp=libgomp -Isrc -Ifuzz -MMD -MP $(FUZZ_SAN) $(FUZZ_COMPAT)
FUZZ_LDLIBS  := -fopenmp=libgomp -lgomp -ldnnl -lutf8proc -ljansson -lnettle -lm -lpthread
FUZZ_B       := build/fuzz
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_BINS    := $(addprefix $(FUZZ_B)/fuzz_,$(FUZZ_TARGETS))
SECONDS      ?= 10

.PHONY: fuzz fuzz-smoke fuzz-regress fuzz-run
fuzz: test-deps $(FUZZ_BINS)

$(FUZZ_B)/obj/%.o: %.c | test-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_B)/libmird.a: $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/fuzz/fuzz_%.o $(FUZZ_B)/libmird.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(FUZZ_LDLIBS)

# The runs themselves are in fuzz/run.sh (bash): see there and fuzz/README.md.
fuzz-smoke: fuzz
	@fuzz/run.sh smoke $(SECONDS) $(FUZZ_TARGETS)
fuzz-regress: fuzz
	@fuzz/run.sh regress 0 $(FUZZ_TARGETS)
TARGET ?= pickle
fuzz-run: fuzz
	@fuzz/run.sh run $(SECONDS) $(TARGET)
