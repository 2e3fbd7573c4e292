# Gigafactory build. Plain GNU Make: one library (libgf.a), one binary (gf),
# one test binary per tests/test_*.c, and the same again under ASan+UBSan in
# build/asan. `make demo` and `make test` install missing Debian packages first.

BUILD    ?= build
CC       ?= cc
ARCH     ?= -march=native
OPT      ?= -O3 $(ARCH)
SAN      :=
# OpenBLAS is loaded at run time by path, its OpenMP build whatever Debian's
# alternatives select (src/engine/blas_select.c), so nothing links -lopenblas.
OPENBLAS_OPENMP ?= /usr/lib/$(shell $(CC) -print-multiarch)/openblas-openmp/libopenblas.so.0
BLAS_DEF := -DGF_OPENBLAS_OPENMP='"$(OPENBLAS_OPENMP)"'
CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE $(BLAS_DEF)
CFLAGS   += -std=c11 -g -fno-math-errno -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -fopenmp $(OPT) $(SAN)
LDLIBS   += -larchive -ljansson -lsqlite3 -lmicrohttpd -lcurl -lgnutls -lsodium $(shell pkg-config --libs libzip) -lz -lm -lpthread
# htslib (VCF/BCF genotypes, src/data/vcf.c)
CPPFLAGS += $(shell pkg-config --cflags htslib)
LDLIBS   += $(shell pkg-config --libs htslib)
# libpng and libjpeg (image folders, src/data/image.c)
CPPFLAGS += $(shell pkg-config --cflags libpng)
LDLIBS   += $(shell pkg-config --libs libpng) -ljpeg
# niftilib (NIfTI-1/2 headers, src/data/nifti.c): Debian's libnifti2-dev
# ships no .pc file, so its include folder and libraries are named here.
NIFTI_CFLAGS := -I/usr/include/nifti
CPPFLAGS += $(NIFTI_CFLAGS)
LDLIBS   += -lnifti2 -lznz
LDFLAGS  += -fopenmp $(SAN)
# OpenMPI (Debian's libopenmpi-dev) for data-parallel training
# (src/train/dist.c); found through pkg-config. MPI=0, or no ompi-c, builds
# without it: gf then refuses `mpirun ... gf train` and --mpi.
MPI      ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
CPPFLAGS += -DGF_HAVE_MPI $(shell pkg-config --cflags ompi-c)
LDLIBS   += $(shell pkg-config --libs ompi-c)
endif

LIB_SRC  := $(sort $(wildcard src/core/*.c src/engine/*.c src/data/*.c src/io/*.c src/train/*.c src/fed/*.c src/privacy/*.c src/service/*.c src/net/*.c src/facility/*.c src/jobspec/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/web_assets.o
WEB_SRC  := web/index.html web/app.js web/style.css
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps test test-fast demo bench clean fuzz fuzz-build
all: $(BUILD)/libgf.a $(BUILD)/gf $(TESTS)

# Rebuild when the compiler flags change (e.g. switching OPT or SAN).
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
$(shell mkdir -p $(BUILD); echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_STAMP) || echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The dashboard's files, embedded into the library (scripts/embed-web.sh).
$(BUILD)/gen/web_assets.c: $(WEB_SRC) scripts/embed-web.sh
	scripts/embed-web.sh $@ $(WEB_SRC)
$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libgf.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/gf: $(CLI_OBJ) $(BUILD)/libgf.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libgf.a tests/check.h tests/site_client.h tests/reference_init.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libgf.a $(LDFLAGS) $(LDLIBS)

# test_model counts the allocations libgf makes during a training step
$(BUILD)/tests/test_model: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

deps:
	@scripts/install-deps.sh test

# The whole suite: the normal build, the same tests under ASan + UBSan, and
# a portable build without -march=native (the scalar fallbacks of the SIMD
# paths), the tests of the threaded servers (HTTPS server, coordinator)
# under ThreadSanitizer, then a short run of each fuzzer.
TSAN_TESTS = build/tsan/tests/test_https build/tsan/tests/test_coordinator
JOBS ?= $(shell nproc)
test: deps
	$(MAKE) -j$(JOBS) all
	$(MAKE) -j$(JOBS) BUILD=build/asan OPT="-O1 $(ARCH)" SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" all
	$(MAKE) -j$(JOBS) BUILD=build/portable ARCH= all
	$(MAKE) -j$(JOBS) BUILD=build/tsan OPT="-O1 $(ARCH)" SAN="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_TESTS)
	$(MAKE) -j$(JOBS) fuzz-build
	tests/run.sh build build/asan build/portable build/tsan:unit

test-fast: all
	tests/run.sh build

demo: 
	@scripts/install-deps.sh build
	$(MAKE) $(BUILD)/gf
	$(BUILD)/gf train --model cnn --dataset fashion-mnist --epochs 3 --batch 64 \
	    --optim adamw --lr 1e-3 --seed 1 --threads $$(nproc) --out $(BUILD)/cnn-fmnist.safetensors
	$(BUILD)/gf eval --model-file $(BUILD)/cnn-fmnist.safetensors --dataset fashion-mnist
	GF=$(BUILD)/gf scripts/fed_demo.sh 3

bench: all
	@scripts/install-deps.sh bench
	bench/train_vs_torch.sh
	bench/blas_autoselect.sh
	bench/gpt_vs_torch.sh
	bench/gpt_learning.sh
	bench/mpi_scaling.sh

clean:
	rm -rf build

# libFuzzer targets (fuzz/fuzz_*.c), built with clang against the library
# sources. `make fuzz` runs each for FUZZ_SECONDS from its seed corpus.
FUZZ_SECONDS ?= 30
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
# The library is compiled once for all of them (fuzzer-no-link: coverage
# without libFuzzer's main), then each target links against it. No MPI here.
FUZZ_SAN   = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS = -std=c11 -g -O1 -fopenmp -Iinclude -Isrc -D_GNU_SOURCE $(BLAS_DEF) $(shell pkg-config --cflags htslib) $(NIFTI_CFLAGS)
FUZZ_OBJ  := $(LIB_SRC:%.c=build/fuzz/obj/%.o) build/fuzz/obj/gen/web_assets.o
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@
build/fuzz/obj/gen/web_assets.o: build/gen/web_assets.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@
build/fuzz/libgf_fuzz.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/%: fuzz/%.c build/fuzz/libgf_fuzz.a
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< build/fuzz/libgf_fuzz.a $(filter-out $(shell pkg-config --libs ompi-c 2>/dev/null),$(LDLIBS))
fuzz-build: $(FUZZ_BIN)
fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/corpus-$$n fuzz/seeds/$$n || exit 1; done

build/bench/%: bench/%.c $(BUILD)/libgf.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libgf.a $(LDFLAGS) $(LDLIBS)
