# A thin wrapper: every target installs what it needs (scripts/deps), then
# hands over to Meson or a script. The build trees are build/ (optimized:
# demo, bench, install) and build-check/ (ASan+UBSan, -Werror: check).
PREFIX ?= /usr/local

.PHONY: demo demo-clean check bench install fuzz clean

demo:
	@scripts/deps
	@scripts/demo

demo-clean:
	@scripts/demo --clean

check:
	@scripts/deps
	@scripts/check

bench:
	@scripts/deps
	@bench/run

install:
	@scripts/deps
	@if [ -f build-install/build.ninja ]; then \
		meson configure build-install --prefix=$(PREFIX); \
	else \
		meson setup build-install --buildtype=release --prefix=$(PREFIX); \
	fi >/dev/null
	@meson install -C build-install

# Run one libFuzzer target for a while: make fuzz TARGET=json SECONDS=60
fuzz:
	@scripts/deps
	@scripts/fuzz $(TARGET) $(SECONDS)

clean:
	rm -rf build build-check build-install build-fuzz
