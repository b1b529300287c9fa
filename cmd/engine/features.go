package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"comanda/accounts"
	"comanda/domain"

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
	registerPaymentReadModel(e)
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
	e.registry.MustRegister(newStatusCollector(ordersReader), newBackupCollector(e.cfg.BackupStatusFile))

	accountStore := accounts.New(e.db.Pool, accounts.Config{Secret: []byte(e.cfg.JWTSecret),
		AccessTTL: e.cfg.AccessTokenTTL, RefreshTTL: e.cfg.RefreshTokenTTL})
	limiter, closeLimiter, err := accounts.OpenLimiter(ctx, accounts.LimiterConfig{
		RedisURL: e.cfg.RedisURL, Limit: e.cfg.LoginRateLimit, Window: e.cfg.LoginRateWindow})
	if err != nil {
		return nil, fmt.Errorf("open login rate limiter: %w", err)
	}
	e.closers = append(e.closers, func() { _ = closeLimiter() })
	e.background = append(e.background, e.housekeeping(accountStore))
	paymentModules, onPaidCancel, err := e.paymentFeatures(ctx, catalogReader)
	if err != nil {
		return nil, err
	}
	secret := []byte(e.cfg.JWTSecret)
	modules := []httpapi.Module{
		// Authentication comes first: Echo applies group middleware only to
		// routes added after it.
		func(_ *httpapi.Server, api *echo.Group) { api.Use(httpapi.Authenticate(secret)) },
		httpapi.AuthModule(httpapi.AuthDeps{Accounts: accountStore, Limiter: limiter,
			BusinessOwner: businessOwner(catalogReader)}),
		httpapi.CatalogModule(httpapi.CatalogDeps{
			Reader: catalogReader,
			Images: &httpapi.ImageStore{Dir: uploads, MaxBytes: e.cfg.MaxImageBytes},
		}),
		httpapi.OrdersModule(httpapi.OrdersDeps{Catalog: catalogReader, Orders: ordersReader,
			OnPaidCancel: onPaidCancel}),
		httpapi.AdminModule(httpapi.AdminDeps{Manager: e.manager}),
	}
	return append(modules, paymentModules...), nil
}

// businessOwner looks up the owner of a business in the catalog read model.
func businessOwner(r *catalog.Reader) func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	return func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
		b, err := r.Business(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			return uuid.Nil, domain.Errorf(domain.CodeNotFound, "no such business")
		}
		if err != nil {
			return uuid.Nil, err
		}
		return b.OwnerID, nil
	}
}
