# Herald. `make run` starts local mode on examples/local; `make test` runs every test.
GO       ?= go
BIN      ?= bin
PKGS     := ./...
export GOTOOLCHAIN := local
export GOFLAGS     := -buildvcs=false
# tests/fluxrecorder posts with Flux's newest event recorder, which needs Go
# 1.27: that module alone builds with the toolchain its go.mod names
# (GOTOOLCHAIN=auto), and is checked by a staticcheck built with it
# (.ci/run installs both).
STATICCHECK_GO127 ?= $(HOME)/.cache/herald/go1.27-bin/staticcheck

.PHONY: run build build-forwarder test test-unit test-forwarder test-e2e soak bench loadtest lint fuzz clean

run:
	$(GO) run ./cmd/herald serve --config examples/local --addr 127.0.0.1:9292 --inbox

build:
	$(GO) build -trimpath -o $(BIN)/herald ./cmd/herald

build-forwarder:
	cd cmd/forwarder && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o ../../$(BIN)/forwarder .

# The forwarder's Kubernetes tests run a real kube-apiserver under envtest:
# .ci/install-kube-apiserver builds it once into this folder (with a link to
# Debian's etcd).
KUBEBUILDER_ASSETS ?= $(HOME)/.cache/herald/envtest-1.36.3
export KUBEBUILDER_ASSETS

test: test-unit test-forwarder test-e2e

# pkg/... runs under the race detector: the queues, stores and providers are
# where goroutines meet. The packages that build binaries (the Lambda
# functions for two targets, herald, the forwarder) get 30 minutes rather
# than go test's 10: on a busy two-core machine the builds alone took 9.
# internal/lambdatest runs on its own, after the others: it times the
# dispatch binary's cold start, which other test binaries running beside it
# on two cores would slow.
test-unit:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 ./pkg/...
	$(GO) test -count=1 -timeout 30m $$($(GO) list $(PKGS) | grep -v -e '/pkg/' -e '/internal/lambdatest$$')
	$(GO) test -count=1 -timeout 30m ./internal/lambdatest

# The forwarder is its own module (client-go stays out of the root go.mod).
test-forwarder:
	cd cmd/forwarder && $(GO) vet ./... && $(GO) test -count=1 -timeout 30m ./...

test-e2e:
	cd tests && $(GO) vet ./... && $(GO) test -count=1 -timeout 30m ./...

# The long form of TestOutageSoak (make test runs a short one): a provider
# outage of 10 minutes, its retry delays scaled by 0.1, with 2,000 events.
soak:
	cd tests && HERALD_SOAK_EVENTS=2000 HERALD_SOAK_SCALE=0.1 $(GO) test -count=1 -timeout 30m -run 'TestOutageSoak$$' -v ./e2e

# Benchmarks beside the code, then the Lambda figures: stripped arm64 binary
# sizes, cold start (median of 21) and DynamoDB calls per ingested event.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) test -count=1 -v -run 'TestFunctions/(BinarySizes|ColdStart|DispatchHTTP)$$' ./internal/lambdatest | grep -E 'bytes|median|DynamoDB|^(ok|FAIL|---)'
	cd cmd/forwarder && $(GO) test -run '^$$' -bench . -benchmem ./...
	# The forwarder's figures: relay rate and p99 under wrk (32 connections),
	# drain rate after an outage, peak RSS with a full 256 MiB buffer, size.
	cd tests && $(GO) run ./loadtest forwarder

loadtest:
	cd tests && $(GO) run ./loadtest

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd tests && $(GO) vet ./...
	cd cmd/forwarder && $(GO) vet ./...
	cd tests/fluxrecorder && GOTOOLCHAIN=auto $(GO) vet ./...
	staticcheck $(PKGS)
	cd tests && staticcheck ./...
	cd cmd/forwarder && staticcheck ./...
	cd tests/fluxrecorder && GOTOOLCHAIN=auto $(STATICCHECK_GO127) ./...

# Every fuzz target of the root and forwarder modules, FUZZTIME each (5m
# for a long run); .ci/fuzz says how it tells a real failure from Go 1.26's
# deadline report. make test runs the seed corpora and testdata/fuzz inputs
# without fuzzing.
FUZZTIME ?= 5s
FUZZMODULES := . cmd/forwarder
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz $(FUZZMODULES)

clean:
	rm -rf $(BIN)

# Lambda artifacts: one stripped linux/arm64 `bootstrap` per function for the
# provided.al2023 runtime. `make package` leaves dist/<name>/bootstrap and
# dist/<name>.zip; `sam build` (deploy/template.yaml, BuildMethod makefile)
# calls build-<LogicalId> with ARTIFACTS_DIR set.
LAMBDA_BUILD := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w'
LAMBDAS      := dispatch receiver

.PHONY: package build-DispatchFunction build-ReceiverFunction

package:
	@set -e; for f in $(LAMBDAS); do \
		rm -rf dist/$$f dist/$$f.zip; \
		$(LAMBDA_BUILD) -o dist/$$f/bootstrap ./functions/$$f; \
		(cd dist/$$f && zip -q -X ../$$f.zip bootstrap); \
		echo "dist/$$f.zip: $$(wc -c < dist/$$f.zip) bytes"; \
	done

build-DispatchFunction:
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set; sam build sets it))
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/dispatch

build-ReceiverFunction:
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set; sam build sets it))
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/receiver
