# lockscope - see README.md.  `make` builds the library and the command,
# `make test` installs what is missing and runs every test, `make demo`
# shows a seed hazard natively and fixed.
-include config.mak

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
SAN      ?=
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CSTD     := -std=c11 -D_GNU_SOURCE
OPT      ?= -O2 -g
SANFLAGS :=
ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(SAN),tsan)
SANFLAGS := -fsanitize=thread
endif
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SANFLAGS) $(CFLAGS)

SHIM_SRCS := $(sort $(wildcard shim/*.c)) config/config.c
SHIM_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SHIM_SRCS))
CMD_SRCS  := $(sort $(wildcard cmd/*.c))
CMD_OBJS  := $(patsubst %.c,$(BUILD)/cmdobj/%.o,$(CMD_SRCS))

LIB := $(BUILD)/liblockscope.so
CMD := $(BUILD)/lockscope

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNITS     := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
SCEN_SRCS := $(sort $(wildcard tests/scenarios/*.c))
SCENS     := $(patsubst tests/scenarios/%.c,$(BUILD)/scenarios/%,$(SCEN_SRCS))
SCENS64   := $(patsubst tests/scenarios/%.c,$(BUILD)/scenarios/%.lfs,$(SCEN_SRCS))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLES  := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))

# Which pure pieces each unit test links (the shim itself is never linked
# into a unit test: units test parts, scenarios test the preload).
UNIT_DEPS_test_config := config/config.c
UNIT_DEPS_test_log    := shim/log.c
UNIT_DEPS_test_ranges := shim/ranges.c
UNIT_DEPS_test_report := cmd/report.c shim/log.c
UNIT_DEPS_test_holder := shim/holder.c shim/registry.c
UNIT_DEPS_test_path   := shim/pathmatch.c shim/log.c

.PHONY: all lib cmd test check units scenarios demo install clean deps bench fuzz test-asan test-tsan test-clang examples
all: lib cmd scenarios examples

lib: $(LIB)
cmd: $(CMD)

$(BUILD)/obj/%.o: %.c $(wildcard shim/*.h config/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -DLS_VERSION='"$(VERSION)"' -c $< -o $@

$(LIB): $(SHIM_OBJS)
	$(CC) $(CFLAGS_ALL) -shared -fPIC -Wl,-z,defs -Wl,-soname,liblockscope.so -o $@ $^ -ldl -lpthread $(LDFLAGS)

$(BUILD)/cmdobj/%.o: %.c $(wildcard cmd/*.h shim/log.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DLS_VERSION='"$(VERSION)"' -DLS_PREFIX='"$(PREFIX)"' -c $< -o $@

$(CMD): $(CMD_OBJS) $(BUILD)/cmdobj/shim/log.o $(BUILD)/cmdobj/shim/registry.o
	$(CC) $(CFLAGS_ALL) -o $@ $^ -lpthread $(LDFLAGS)

$(BUILD)/cmdobj/shim/log.o: shim/log.c shim/log.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/cmdobj/shim/registry.o: shim/registry.c shim/registry.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

.SECONDEXPANSION:
$(BUILD)/unit/%: tests/unit/%.c $$(UNIT_DEPS_$$*) $(wildcard shim/*.h config/*.h cmd/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DLS_UNIT_TEST -Ishim -Iconfig -Icmd -o $@ $< $(UNIT_DEPS_$*) -lcmocka -lpthread

$(BUILD)/scenarios/%: tests/scenarios/%.c tests/scenarios/scen.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -pthread -o $@ $< -lpthread

$(BUILD)/scenarios/%.lfs: tests/scenarios/%.c tests/scenarios/scen.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -D_FILE_OFFSET_BITS=64 -pthread -o $@ $< -lpthread

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -pthread -o $@ $< -lpthread

units: $(UNITS)
scenarios: $(SCENS) $(SCENS64)
examples: $(EXAMPLES)

deps:
	@scripts/deps.sh

# The one test command: installs what is missing, builds, runs everything.
test: deps
	@scripts/test-all.sh

check: test

test-asan:
	@scripts/test-sanitizer.sh asan
test-tsan:
	@scripts/test-sanitizer.sh tsan
test-clang:
	@scripts/test-sanitizer.sh clang

demo: deps all
	@scripts/demo.sh

bench: deps all
	@$(MAKE) -C bench BUILD=$(abspath $(BUILD))

fuzz: deps
	@scripts/fuzz.sh $(or $(FUZZ_SECONDS),60)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lockscope $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/lockscope/liblockscope.so
	install -m 0755 $(CMD) $(DESTDIR)$(PREFIX)/bin/lockscope
	install -m 0644 doc/lockscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/lockscope.1

clean:
	rm -rf build build-* 
