# SyncNet. `make run` starts the three-node cluster of cluster.toml;
# `make test` is what CI runs. Only Go and make are needed.

GO        ?= go
BIN       := bin/syncnet
PKGS      := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Seeds for the simulation tests; `make soak` raises them.
SOAK_ENV  := SYNCNET_SOAK=1

.PHONY: all build run test fmt-check vet tidy-check unit bench fuzz soak chaos lint clean

all: build

build:
	$(GO) build -o $(BIN) ./tools/cmd/syncnet

run: build
	$(BIN) up --config cluster.toml

test: fmt-check vet tidy-check unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

tidy-check:
	@cp go.mod /tmp/syncnet.go.mod.bak; cp go.sum /tmp/syncnet.go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/syncnet.go.mod.bak || ! cmp -s go.sum /tmp/syncnet.go.sum.bak; then \
	  echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; \
	  cp /tmp/syncnet.go.mod.bak go.mod; cp /tmp/syncnet.go.sum.bak go.sum; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m $(PKGS)

fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; done

soak:
	$(SOAK_ENV) $(GO) test -count=1 -timeout 4h -run 'Sim|Soak' ./ring/... ./node/...

# The e2e chaos soak: seeded kill -9 / SIGSTOP / SIGTERM / restart cycles on
# real nodes, then the set check (CYCLES=100 by default; SYNCNET_CHAOS_SEED
# replays). As root the nodes run in network namespaces and the cycles also
# freeze a node with its UDP (ring) traffic dropped; otherwise that kind is
# left out, with the reason in the log.
chaos:
	SYNCNET_CHAOS_CYCLES=$(or $(CYCLES),100) $(GO) test -race -count=1 -timeout 60m -v -run '^TestChaos$$' ./tools/e2e/

lint:
	$(GO) run $(STATICCHECK) $(PKGS)

clean:
	rm -rf bin
