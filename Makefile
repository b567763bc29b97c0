# storagetiers: every target delegates to a script in scripts/.

.PHONY: setup build dev test bench

setup:
	scripts/setup

build: setup
	scripts/build

dev:
	scripts/dev

test:
	scripts/test

bench:
	scripts/bench
