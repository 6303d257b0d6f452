# Everyday commands. `make help` lists them.
SWIFT ?= swift
DEMO := $(CURDIR)/.demo
IMAGE ?= ha-sync:dev

.PHONY: help build release smoke test lint fmt check-fresh validate bench bench-nfs bench-remote bench-fanout bench-million demo deploy-generate docker-build docker-push clean

help:
	@echo "make demo      build ha-sync and sync two sample folders under .demo/ (embedded defaults)"
	@echo "make test      install what the tests need (or name it), build everything and run all tests"
	@echo "make build     debug build"
	@echo "make fmt       format the sources with swift format"
	@echo "make lint      check formatting and compiler warnings"
	@echo "make check-fresh  run make test in a scratch clone with an empty environment (as a new user would)"
	@echo "make bench     benchmark against rsync, rclone and cp (needs rsync, rclone; ~6 GiB scratch)"
	@echo "make bench-nfs the same peers with both trees behind latencyfs, NFS-like latency (root, /dev/fuse)"
	@echo "make bench-remote  ha-sync serve vs an rsync daemon over a netem-shaped veth link (root, iproute2)"
	@echo "make bench-fanout  one source to three destinations in one run, vs one destination and vs three rsyncs"
	@echo "make release   release build of ha-sync and ha-sync-ui, Swift runtime linked statically (as in the image)"
	@echo "make smoke     run the release binaries once"
	@echo "make deploy-generate   rewrite deploy/*.yaml from deploy/settings.toml"
	@echo "make docker-build IMAGE=...  /  make docker-push IMAGE=..."

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --static-swift-stdlib --product ha-sync
	$(SWIFT) build -c release --static-swift-stdlib --product ha-sync-ui
	@# Ship stripped binaries; keep the debug info beside them (linked by name) for crash analysis.
	@# A binary the build did not relink is already stripped: leave it and its .debug file alone.
	for binary in ha-sync ha-sync-ui; do \
		readelf -S .build/release/$$binary | grep -q '\.debug_info' || continue; \
		objcopy --only-keep-debug .build/release/$$binary .build/release/$$binary.debug && \
		strip --strip-debug --strip-unneeded .build/release/$$binary && \
		objcopy --add-gnu-debuglink=.build/release/$$binary.debug .build/release/$$binary || exit 1; \
	done

# The release binaries must start and do a real sync; ldd shows no Swift runtime library.
smoke: release
	rm -rf .build/smoke && mkdir -p .build/smoke/src/sub .build/smoke/dest
	echo smoke > .build/smoke/src/sub/file.txt
	.build/release/ha-sync --src "$(CURDIR)/.build/smoke/src" --dest "$(CURDIR)/.build/smoke/dest" --pair smoke --log-dir "$(CURDIR)/.build/smoke/logs" --no-progress
	cmp .build/smoke/src/sub/file.txt .build/smoke/dest/sub/file.txt
	echo back > .build/smoke/dest/from-dest.txt
	.build/release/ha-sync --src "$(CURDIR)/.build/smoke/src" --dest "$(CURDIR)/.build/smoke/dest" --pair smoke --bidirectional --log-dir "$(CURDIR)/.build/smoke/logs" --no-progress
	cmp .build/smoke/dest/from-dest.txt .build/smoke/src/from-dest.txt
	.build/release/ha-sync-ui --help > /dev/null
	! ldd .build/release/ha-sync | grep -q libswiftCore
	! ldd .build/release/ha-sync-ui | grep -q libswiftCore
	@# Stripped: no DWARF sections left in what ships.
	! readelf -S .build/release/ha-sync | grep -q '\.debug_info'
	@ls -lh .build/release/ha-sync .build/release/ha-sync-ui | awk '{print $$5, $$9}'

deploy-generate:
	python3 deploy/generate.py

docker-build:
	@test -n "$(IMAGE)" || (echo "usage: make docker-build IMAGE=registry/ha-sync:tag" && exit 2)
	docker build -t "$(IMAGE)" .

docker-push:
	@test -n "$(IMAGE)" || (echo "usage: make docker-push IMAGE=registry/ha-sync:tag" && exit 2)
	docker push "$(IMAGE)"

# The tests find the Python tools (kubernetes-validate, websocket-client) in the venv test-setup makes.
TEST_PATH := $(CURDIR)/.build/test-venv/bin:$(PATH)

test:
	@scripts/test-setup.sh
	PATH="$(TEST_PATH)" $(SWIFT) build --build-tests
	PATH="$(TEST_PATH)" $(SWIFT) test --skip-build

fmt:
	$(SWIFT) format -i -r Sources Tests Package.swift

lint:
	scripts/validate.sh

check-fresh:
	scripts/check-fresh.sh

bench:
	$(SWIFT) build -c release --product ha-sync
	scripts/bench.py

# On demand, as root: both trees behind latencyfs (NFS-like latency); see docs/performance.md.
bench-nfs:
	$(SWIFT) build -c release --product ha-sync
	scripts/bench_nfs.py

# Needs about 8 GiB of memory for the default 100,000 files and 1 GiB file; override to use the disk.
BENCH_REMOTE_ARGS ?= --tmpfs 14g
bench-remote: release
	@# Two network namespaces, 1 ms RTT, 1 Gbit/s, trees on a tmpfs; see scripts/bench_remote.py --help.
	scripts/bench_remote.py $(BENCH_REMOTE_ARGS)

bench-fanout:
	$(SWIFT) build -c release --product ha-sync
	scripts/bench_fanout.py

bench-million:
	$(SWIFT) build -c release --product ha-sync
	scripts/bench.py --million

demo: build
	@rm -rf "$(DEMO)"
	@mkdir -p "$(DEMO)/dell/photos/2024" "$(DEMO)/hp/scans" "$(DEMO)/logs"
	@echo "first light" > "$(DEMO)/dell/photos/2024/sunrise.txt"
	@echo "notes" > "$(DEMO)/dell/readme.txt"
	@ln -s photos/2024 "$(DEMO)/dell/latest"
	@echo "scanned on hp" > "$(DEMO)/hp/scans/receipt.txt"
	@echo "== dry run: the plan (both ways), nothing changes"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/dell" --dest "$(DEMO)/hp" --pair demo --bidirectional --side-names dell,hp --log-dir "$(DEMO)/logs" --dry-run
	@echo "== real run: the first run is the union of both sides"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/dell" --dest "$(DEMO)/hp" --pair demo --bidirectional --side-names dell,hp --log-dir "$(DEMO)/logs" --verbose
	@echo "== the same file edited on both sides, one file deleted on hp"
	@echo "notes, edited on dell" > "$(DEMO)/dell/readme.txt"
	@sleep 3; echo "notes, edited on hp later" > "$(DEMO)/hp/readme.txt"
	@rm "$(DEMO)/hp/photos/2024/sunrise.txt"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/dell" --dest "$(DEMO)/hp" --pair demo --bidirectional --side-names dell,hp --log-dir "$(DEMO)/logs" --verbose
	@ls "$(DEMO)/dell"
	@echo "== what the sync deleted on dell is kept in its version store"
	@cd "$(DEMO)/dell" && find .ha-sync-versions -type f
	@echo "== a third run finds nothing to do"
	$(SWIFT) run --skip-build ha-sync --src "$(DEMO)/dell" --dest "$(DEMO)/hp" --pair demo --bidirectional --side-names dell,hp --log-dir "$(DEMO)/logs"

clean:
	rm -rf .build "$(DEMO)" bench-data
