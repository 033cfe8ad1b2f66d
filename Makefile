# Gatehouse. `make test` is the test command of the README and of CI.
GO        ?= go
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test lint fuzz bench run clean

all: build

## build: bin/gatehouse, stamped with the git tag or commit (`gatehouse
## version`, gatehouse_build_info); VERSION= and COMMIT= override them.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o bin/gatehouse ./cmd/gatehouse

## test: every test, with the race detector. PostgreSQL, Redis and browser
## tests skip with a message unless GATEHOUSE_TEST_POSTGRES,
## GATEHOUSE_TEST_REDIS and GATEHOUSE_TEST_BROWSER are set (.ci/run sets them).
test:
	$(GO) test -race -count=1 -timeout 15m ./...

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## fuzz: a short run of every fuzz target (FUZZTIME each; seeds are in the
## tests, what the fuzzer finds stays in Go's cache). The default is a count
## of inputs, not a duration: with a duration, Go 1.26's fuzz coordinator can
## fail a target with a bare "context deadline exceeded" when -fuzztime ends
## on a busy machine (golang/go#75804, fixed in Go 1.27). FUZZTIME=30s works
## for longer runs by hand.
FUZZTIME ?= 20000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzOneCharOff$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzCheckPathAndMatch$$' -fuzztime $(FUZZTIME) ./proxy
	$(GO) test -run '^$$' -fuzz '^FuzzCreateBody$$' -fuzztime $(FUZZTIME) ./mgmtapi
	$(GO) test -run '^$$' -fuzz '^FuzzWellFormed$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzScopeSet$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzForward$$' -fuzztime $(FUZZTIME) ./proxy
	$(GO) test -run '^$$' -fuzz '^FuzzRenewBody$$' -fuzztime $(FUZZTIME) ./mgmtapi
	$(GO) test -run '^$$' -fuzz '^FuzzListQuery$$' -fuzztime $(FUZZTIME) ./mgmtapi
	$(GO) test -run '^$$' -fuzz '^FuzzPublicLocation$$' -fuzztime $(FUZZTIME) ./proxy
	$(GO) test -run '^$$' -fuzz '^FuzzLogPath$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzUpstreamAnswer$$' -fuzztime $(FUZZTIME) ./proxy
	$(GO) test -run '^$$' -fuzz '^FuzzEscapedPath$$' -fuzztime $(FUZZTIME) ./proxy
	$(GO) test -run '^$$' -fuzz '^FuzzClientAddr$$' -fuzztime $(FUZZTIME) ./keyauth
	$(GO) test -run '^$$' -fuzz '^FuzzParseAllowedIP$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzSignatureBase$$' -fuzztime $(FUZZTIME) ./httpsig

## bench: micro-benchmarks (key verification, proxy against a bare proxy),
## then the load comparison and the 1,000,000-key start-up (bench/run.sh).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 . ./keyindex ./keyauth ./proxy ./server
	bash bench/run.sh

## run: the gateway on the embedded default with the demo API.
run:
	$(GO) run ./cmd/gatehouse serve --demo

clean:
	rm -rf bin
