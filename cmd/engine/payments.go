package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"

	"comanda/eventstore"
	"comanda/httpapi"
	"comanda/mercadopago"
	"comanda/mercadopago/simulator"
	"comanda/payments"
	"comanda/projections/catalog"
	readmodel "comanda/projections/payments"
)

func init() { extraCommands = append(extraCommands, paymentsCommand) }

// paymentSettings are the payment settings read from the environment besides
// the MERCADOPAGO_* and PUBLIC_BASE_URL fields of config.
type paymentSettings struct {
	SuccessURL       string        `env:"MERCADOPAGO_SUCCESS_URL"`
	FailureURL       string        `env:"MERCADOPAGO_FAILURE_URL"`
	PendingURL       string        `env:"MERCADOPAGO_PENDING_URL"`
	Timeout          time.Duration `env:"MERCADOPAGO_TIMEOUT" envDefault:"10s"`
	InboxWorkers     int           `env:"PAYMENT_INBOX_WORKERS" envDefault:"2"`
	InboxMaxAttempts int           `env:"PAYMENT_INBOX_MAX_ATTEMPTS" envDefault:"8"`
	InboxBackoff     time.Duration `env:"PAYMENT_INBOX_BACKOFF" envDefault:"2s"`
	InboxMaxBackoff  time.Duration `env:"PAYMENT_INBOX_MAX_BACKOFF" envDefault:"5m"`
	InboxRetention   time.Duration `env:"PAYMENT_INBOX_RETENTION" envDefault:"720h"`
	ReconcileAfter   time.Duration `env:"PAYMENT_RECONCILE_AFTER" envDefault:"15m"`
	ReconcileEvery   time.Duration `env:"PAYMENT_RECONCILE_EVERY" envDefault:"15m"`
}

// simulatorPrefix is where the MercadoPago simulator is mounted on the
// engine's own server when no access token is configured.
const simulatorPrefix = "/_mp"

// webhookPath is the route MercadoPago notifies.
const webhookPath = "/v1/webhooks/mercadopago"

// registerPaymentReadModel adds the payments read model to the projection
// manager; call it before the manager starts.
func registerPaymentReadModel(e *engine) { e.manager.Register(readmodel.Definition()) }

// paymentFeatures builds the payment service on MercadoPago, or on the
// simulator when MERCADOPAGO_ACCESS_TOKEN is unset in development and test.
// It registers the payment gauges, adds the inbox worker and the periodic
// reconciliation to the background work, and returns the HTTP modules and the
// hook the order routes call after a cancellation (OrdersDeps.OnPaidCancel).
// Call it after the projection manager has started.
func (e *engine) paymentFeatures(_ context.Context, catalogReader *catalog.Reader) (
	[]httpapi.Module, func(ctx context.Context, orderID string) error, error) {
	settings, err := env.ParseAs[paymentSettings]()
	if err != nil {
		return nil, nil, fmt.Errorf("read payment configuration: %w", err)
	}
	if e.cfg.MPWebhookSecret == "" {
		return nil, nil, errors.New("MERCADOPAGO_WEBHOOK_SECRET must be set: without it no webhook " +
			"can be verified")
	}
	base := strings.TrimSuffix(e.cfg.PublicBaseURL, "/")
	client, sim, err := e.mercadoPago(settings, base)
	if err != nil {
		return nil, nil, err
	}
	reader := readmodel.NewReader(e.db.Pool)
	svc, err := newPaymentService(e, settings, base, client, reader, catalogReader)
	if err != nil {
		return nil, nil, err
	}
	e.registry.MustRegister(svc.Collector(), reader.Collector())
	e.background = append(e.background, svc.Run)
	if settings.ReconcileEvery > 0 {
		e.background = append(e.background, func(ctx context.Context) {
			reconcileEvery(ctx, e, svc, settings.ReconcileEvery)
		})
	}

	modules := []httpapi.Module{httpapi.PaymentsModule(httpapi.PaymentsDeps{
		Service: svc, Reader: reader, Catalog: catalogReader,
		WebhookSecret: e.cfg.MPWebhookSecret, WebhookWindow: e.cfg.MPWebhookWindow,
	})}
	if sim != nil {
		handler := echo.WrapHandler(http.StripPrefix(simulatorPrefix, sim))
		modules = append(modules, func(s *httpapi.Server, _ *echo.Group) {
			s.Echo().Any(simulatorPrefix+"/*", handler)
		})
	}
	return modules, svc.OnPaidCancel, nil
}

// mercadoPago returns the MercadoPago client: the real API with an access
// token, otherwise the simulator mounted under simulatorPrefix, which only
// development and test may use.
func (e *engine) mercadoPago(settings paymentSettings, base string) (*mercadopago.Client,
	*simulator.Simulator, error) {
	httpClient := &http.Client{Timeout: settings.Timeout}
	if e.cfg.MPAccessToken != "" {
		client, err := mercadopago.New(e.cfg.MPAccessToken, mercadopago.WithHTTPClient(httpClient))
		if err != nil {
			return nil, nil, fmt.Errorf("configure MercadoPago: %w", err)
		}
		return client, nil, nil
	}
	if e.cfg.Env != "development" && e.cfg.Env != "test" {
		return nil, nil, errors.New("MERCADOPAGO_ACCESS_TOKEN must be set outside development and test")
	}
	simURL := base + simulatorPrefix
	sim := simulator.New(simulator.Config{WebhookSecret: e.cfg.MPWebhookSecret,
		PublicBaseURL: simURL, Logger: e.log})
	e.closers = append(e.closers, sim.Close)
	client, err := mercadopago.New("simulator", mercadopago.WithBaseURL(simURL),
		mercadopago.WithHTTPClient(httpClient))
	if err != nil {
		return nil, nil, fmt.Errorf("configure the MercadoPago simulator: %w", err)
	}
	e.log.Warn("MERCADOPAGO_ACCESS_TOKEN is not set: payments use the built-in MercadoPago simulator",
		"simulator_url", simURL, "checkout_pages", simURL+"/checkout/{preference_id}",
		"control_api", simURL+"/_sim/state")
	return client, sim, nil
}

func newPaymentService(e *engine, settings paymentSettings, base string, client *mercadopago.Client,
	reader *readmodel.Reader, catalogReader *catalog.Reader) (*payments.Service, error) {
	svc, err := payments.New(payments.Config{
		NotificationURL: base + webhookPath,
		BackURLs: mercadopago.BackURLs{Success: settings.SuccessURL, Failure: settings.FailureURL,
			Pending: settings.PendingURL},
		MaxAttempts: settings.InboxMaxAttempts, Backoff: settings.InboxBackoff,
		MaxBackoff: settings.InboxMaxBackoff, Workers: settings.InboxWorkers,
		Retention: settings.InboxRetention, ReconcileAfter: settings.ReconcileAfter,
		Logger: e.log,
	}, payments.Deps{Store: e.store, MercadoPago: client, Reader: reader,
		BusinessOwner: ownerOfBusiness(catalogReader)})
	if err != nil {
		return nil, fmt.Errorf("build payments: %w", err)
	}
	return svc, nil
}

// ownerOfBusiness looks up the owner of a business in the catalog read
// model; an unknown business has none.
func ownerOfBusiness(r *catalog.Reader) func(ctx context.Context, id string) (string, error) {
	return func(ctx context.Context, id string) (string, error) {
		parsed, err := uuid.Parse(id)
		if err != nil {
			return "", nil
		}
		b, err := r.Business(ctx, parsed)
		if errors.Is(err, catalog.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return b.OwnerID.String(), nil
	}
}

// reconcileEvery reconciles payments every interval until ctx is done.
func reconcileEvery(ctx context.Context, e *engine, svc *payments.Service, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rep, err := svc.Reconcile(ctx, -1)
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Error("reconcile payments", "error", err)
		case rep.PaymentsRecorded > 0 || rep.RefundsRequested > 0 || rep.Failures > 0:
			e.log.Info("payments reconciled", "orders_checked", rep.OrdersChecked,
				"payments_recorded", rep.PaymentsRecorded, "refunds_requested", rep.RefundsRequested,
				"failures", rep.Failures)
		}
	}
}

func paymentsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "payments",
		Short: "MercadoPago payment operations",
	}
	var (
		engineURL string
		minAge    time.Duration
	)
	reconcile := &cobra.Command{
		Use:   "reconcile",
		Short: "Record MercadoPago payments whose notifications never arrived",
		Long: "For every order whose checkout started more than --min-age ago and that is neither\n" +
			"paid nor cancelled, ask MercadoPago for its payments and record them; ask again for\n" +
			"the refunds of cancelled paid orders that failed. Safe to run at any time, any number\n" +
			"of times, also while engines run. With --url (and ADMIN_TOKEN) a running engine does\n" +
			"it; without, this command does, which needs MERCADOPAGO_ACCESS_TOKEN.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if engineURL != "" {
				return reconcileRemote(c.Context(), engineURL, minAge, c.OutOrStdout())
			}
			return reconcileLocal(c.Context(), minAge, c.OutOrStdout())
		},
	}
	reconcile.Flags().StringVar(&engineURL, "url", "",
		"base URL of a running engine, e.g. http://localhost:8080")
	reconcile.Flags().DurationVar(&minAge, "min-age", -1,
		"how old an unpaid checkout must be (default PAYMENT_RECONCILE_AFTER)")
	cmd.AddCommand(reconcile)
	return cmd
}

func reconcileLocal(ctx context.Context, minAge time.Duration, out io.Writer) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.MPAccessToken == "" {
		return errors.New("MERCADOPAGO_ACCESS_TOKEN is not set: the simulator lives inside a " +
			"running engine, so ask it with --url and ADMIN_TOKEN")
	}
	settings, err := env.ParseAs[paymentSettings]()
	if err != nil {
		return fmt.Errorf("read payment configuration: %w", err)
	}
	log := newLogger(cfg)
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	e := &engine{cfg: cfg, log: log, db: db, store: eventstore.New(db.Pool)}
	base := strings.TrimSuffix(cfg.PublicBaseURL, "/")
	client, _, err := e.mercadoPago(settings, base)
	if err != nil {
		return err
	}
	svc, err := newPaymentService(e, settings, base, client, readmodel.NewReader(db.Pool),
		catalog.NewReader(db.Pool))
	if err != nil {
		return err
	}
	rep, err := svc.Reconcile(ctx, minAge)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func reconcileRemote(ctx context.Context, base string, minAge time.Duration, out io.Writer) error {
	path := "/v1/admin/payments/reconcile"
	if minAge >= 0 {
		path += "?" + url.Values{"min_age_seconds": {fmt.Sprint(int64(minAge.Seconds()))}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+os.Getenv("ADMIN_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask the engine to reconcile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("ask the engine to reconcile: %s: %s", resp.Status,
			strings.TrimSpace(string(body)))
	}
	_, err = io.Copy(out, resp.Body)
	return err
}
