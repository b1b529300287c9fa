package main

import (
	"context"

	"comanda/httpapi"
)

// features builds the feature areas (catalog, orders, payments, ...): their
// projectors, background workers and HTTP modules.
func (e *engine) features(ctx context.Context) ([]httpapi.Module, error) {
	return nil, nil
}
