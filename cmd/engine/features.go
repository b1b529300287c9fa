package main

import (
	"context"
	"fmt"
	"path/filepath"

	"comanda/httpapi"
	"comanda/projections"
	"comanda/projections/catalog"
	"comanda/projections/orders"
)

// features builds the feature areas: the read models and their projectors,
// the background workers and the HTTP modules.
func (e *engine) features(ctx context.Context) ([]httpapi.Module, error) {
	e.manager = projections.NewManager(e.store, e.projections, projections.Config{
		PollInterval: e.cfg.PollInterval,
		Metrics:      projections.NewMetrics(e.registry),
		Logger:       e.log,
	})
	e.manager.Register(catalog.Definition())
	e.manager.Register(orders.Definition())
	if err := e.manager.Start(ctx); err != nil {
		return nil, fmt.Errorf("prepare read models: %w", err)
	}
	e.background = append(e.background, e.manager.Run)

	uploads, err := filepath.Abs(e.cfg.UploadsDir)
	if err != nil {
		return nil, fmt.Errorf("resolve uploads directory: %w", err)
	}
	catalogReader := catalog.NewReader(e.db.Pool)
	ordersReader := orders.NewReader(e.db.Pool)
	e.registry.MustRegister(newStatusCollector(ordersReader))
	return []httpapi.Module{
		httpapi.CatalogModule(httpapi.CatalogDeps{
			Reader: catalogReader,
			Images: &httpapi.ImageStore{Dir: uploads, MaxBytes: e.cfg.MaxImageBytes},
		}),
		httpapi.OrdersModule(httpapi.OrdersDeps{Catalog: catalogReader, Orders: ordersReader}),
		httpapi.AdminModule(httpapi.AdminDeps{Manager: e.manager}),
	}, nil
}
