# Everyday commands. `make help` lists them.
SWIFT ?= swift
DEMO := $(CURDIR)/.demo
IMAGE ?= ha-sync:dev

.PHONY: help build release test lint fmt validate bench bench-million demo clean

help:
	@echo "make demo      build ha-sync and sync two sample folders under .demo/ (embedded defaults)"
	@echo "make test      build everything and run all tests"
	@echo "make build     debug build"
	@echo "make release   release build of ha-sync"
	@echo "make fmt       format the sources with swift format"
	@echo "make lint      check formatting and compiler warnings"
	@echo "make bench     benchmark against rsync, rclone and cp (needs rsync, rclone; ~6 GiB scratch)"

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --product ha-sync

test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

fmt:
	$(SWIFT) format -i -r Sources Tests Package.swift

lint:
	scripts/validate.sh

bench: release
	scripts/bench.py

bench-million: release
	scripts/bench.py --million

demo: build
	@rm -rf "$(DEMO)"
	@mkdir -p "$(DEMO)/dell/photos/2024" "$(DEMO)/hp" "$(DEMO)/logs"
	@echo "first light" > "$(DEMO)/dell/photos/2024/sunrise.txt"
	@echo "notes" > "$(DEMO)/dell/readme.txt"
	@ln -s photos/2024 "$(DEMO)/dell/latest"
	@echo "== dry run: the plan, nothing changes"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/dell" --dest "$(DEMO)/hp" --pair demo --direction dell-to-hp --log-dir "$(DEMO)/logs" --dry-run
	@echo "== real run"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/dell" --dest "$(DEMO)/hp" --pair demo --direction dell-to-hp --log-dir "$(DEMO)/logs" --verbose
	@echo "== the reverse job finds nothing to do"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/hp" --dest "$(DEMO)/dell" --pair demo --direction hp-to-dell --log-dir "$(DEMO)/logs"

clean:
	rm -rf .build "$(DEMO)" bench-data
