# Loom — the two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
# A count, not a duration: a time limit can expire while the fuzzer minimises
# a new input, which Go reports as a failure ("context deadline exceeded").
FUZZTIME ?= 150000x
FUZZ_TARGETS := FuzzDecode FuzzParseOXMs FuzzParseInstructions FuzzParseFlowStats FuzzParsePortDescs FuzzFramer
# What an OVSDB server sends: schemas, monitor updates, raw JSON-RPC.
OVSDB_FUZZ_TARGETS := FuzzSchema FuzzUpdate FuzzWire
OVSDB_FUZZTIME ?= 50000x

.PHONY: all build deps test unit integration bench-smoke fuzz demo demo-cluster bench bench-cluster lint verify generate proto clean soak
SOAK_DURATION ?= 3m

all: build

# The version stamped into the binaries: the git description of the tree.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/loomd ./cmd/loomd
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/loomctl ./cmd/loomctl

deps:
	@scripts/install-deps.sh

# Every test: lint, the generated-code check, unit tests with the race
# detector, the real-OVS integration tests, and a short run of each fuzz target.
test: deps lint verify unit fuzz integration bench-smoke

# The libovsdb fork (third_party/libovsdb, a nested module) has tests of
# its own that ./... does not reach.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration) github.com/ovn-org/libovsdb/...

# Real OVS in network namespaces: needs root (CI runs as root).
# The soak slice (integration/soak, about 90 s under the race detector) runs
# beside the other integration packages: each uses its own namespaces.
integration: deps
	$(GO) test -race -count=1 -timeout 15m ./integration ./integration/harness ./integration/soak

# One iteration of every benchmark at its small sizes (internal/benchsize):
# a benchmark that no longer runs fails make test instead of rotting.
bench-smoke: deps
	LOOM_BENCH_SMOKE=1 $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x $$($(GO) list ./... )

fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./openflow >/tmp/loom-fuzz.log 2>&1 || { cat /tmp/loom-fuzz.log; exit 1; }; \
	done
	@for t in $(OVSDB_FUZZ_TARGETS); do \
	  echo "fuzz $$t for $(OVSDB_FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(OVSDB_FUZZTIME) ./ovsdb >/tmp/loom-fuzz.log 2>&1 || { cat /tmp/loom-fuzz.log; exit 1; }; \
	done

# Soak and chaos: SOAK_DURATION of every load and fault at once against a
# real loomd and real OVS (bounded); the report ends the output.
soak: deps
	SOAK_DURATION=$(SOAK_DURATION) scripts/soak.sh

demo: deps build
	scripts/demo.sh

# The seed scenario on a cluster: three etcd members, three loomd
# instances; the master of a bridge is killed mid-ping and no ping is lost.
demo-cluster: deps build
	CLUSTER=1 scripts/demo.sh

# Go benchmarks of the hot path and the flow engine, then loombench against
# the peers and the ceiling (bench/run.sh; writes bench/results.md).
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./integration
	$(GO) test -run '^$$' -bench . -benchmem ./openflow ./controller
	bench/run.sh
# Mastership at scale: 1000 emulated switches over three instances and three
# etcd members on loopback; one instance is killed (bench/cluster.sh).
bench-cluster: build
	bench/cluster.sh

# golangci-lint (.golangci.yml) at the version tools/lint/go.mod pins, built
# into bin/ on first use and again whenever that go.mod changes.
GOLANGCI_LINT := bin/golangci-lint

$(GOLANGCI_LINT): tools/lint/go.mod tools/lint/go.sum
	cd tools/lint && $(GO) build -o ../../$@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

lint: $(GOLANGCI_LINT)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

# The committed generated code (protobuf, OVSDB models) and go.mod files are
# what `make proto`, `make generate` and `go mod tidy` make of the tree,
# checked in a temporary copy (scripts/verify.sh; a few seconds).
verify: deps
	scripts/verify.sh

# OVSDB models from the installed OVS schema (committed; rerun after an OVS upgrade).
generate: deps
	$(GO) run github.com/ovn-org/libovsdb/cmd/modelgen -p vswitch -o ovsdb/vswitch /usr/share/openvswitch/vswitch.ovsschema

# gRPC/protobuf code from proto/ (committed). protoc from Debian; the Go
# plugins at the versions go.mod pins.
proto:
	@command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; }
	$(GO) build -o bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	$(GO) build -o bin/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc
	protoc --plugin=bin/protoc-gen-go --plugin=bin/protoc-gen-go-grpc \
	  --go_out=. --go_opt=module=github.com/loomsdn/loom \
	  --go-grpc_out=. --go-grpc_opt=module=github.com/loomsdn/loom \
	  proto/loom/v1/*.proto

clean:
	rm -rf bin
