# Everyday tasks. `make help` lists them.
.DEFAULT_GOAL := help
.PHONY: help run test test-short lint bench loadtest migrate db-reset docs

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: ## Run the engine on its embedded database (./.data)
	go run ./cmd/engine

test: ## Run the whole test suite, as CI does
	./scripts/test.sh

test-short: ## Run the Go tests of the core packages only
	go test -race -count=1 ./domain/... ./eventstore/... ./projections/... ./httpapi/...

lint: ## Vet, lint and shellcheck
	go vet ./...
	golangci-lint run ./...
	shellcheck scripts/*.sh scripts/lib/*.sh scripts/setup.d/*.sh

bench: ## Benchmarks against a same-run pgbench ceiling
	./scripts/bench.sh

loadtest: ## HTTP load test with vegeta
	./scripts/loadtest.sh

migrate: ## Apply pending migrations to DATABASE_URL (or the embedded database)
	go run ./cmd/engine migrate

db-reset: ## Delete the embedded database and uploads (asks first)
	@read -r -p "Delete ./.data and ./uploads? [y/N] " answer && [ "$$answer" = y ]
	rm -rf ./.data ./uploads

docs: ## Print where the API documentation is served
	@echo "Run 'make run', then open http://localhost:8080/docs"
