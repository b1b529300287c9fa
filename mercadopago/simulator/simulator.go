// Package simulator is a local stand-in for MercadoPago, for development and tests: an
// http.Handler that answers the API calls package mercadopago makes through the official SDK,
// serves a checkout page whose Approve and Reject buttons create payments, and sends signed
// webhooks about them.
//
// It is not a MercadoPago emulator: it knows only the endpoints below, keeps state in memory,
// checks that a bearer token is present but not which, and accepts every status change asked
// through the control API. It must never face the internet.
//
// MercadoPago API, in the JSON shapes the SDK decodes (bearer token required):
//
//	POST /checkout/preferences            create a preference
//	GET  /v1/payments/{id}                read a payment
//	GET  /v1/payments/search              search by external_reference (limit, offset)
//	POST /v1/payments/{id}/refunds        refund all, or {"amount": 12.5}
//
// POSTs honor X-Idempotency-Key: a key seen before, on the same path, gets the first
// successful answer again and creates nothing.
//
// Checkout, plain HTML with no external assets:
//
//	GET  /checkout/{preference_id}        the page; its forms post to the two routes below
//	POST /checkout/{preference_id}/approve
//	POST /checkout/{preference_id}/reject
//
// Control API for tests and demos, JSON in and out:
//
//	GET    /_sim/state                    preferences, payments, faults and webhook deliveries
//	POST   /_sim/payments                 {"preference_id", "status", "status_detail",
//	                                       "amount_minor", "currency", "external_reference",
//	                                       "skip_webhook"}; only preference_id (or
//	                                       external_reference, amount_minor and currency) and
//	                                       status are required
//	POST   /_sim/payments/{id}/status     {"status", "status_detail", "skip_webhook"}
//	POST   /_sim/payments/{id}/notify     send the payment's last webhook again
//	POST   /_sim/faults                   {"kind": "error"|"delay"|"rate_limit", "count",
//	                                       "status", "delay_ms"}: the next count requests to
//	                                       /v1/payments/* fail that way (delay then answers)
//	DELETE /_sim/faults                   drop pending faults
//	POST   /_sim/reset                    forget everything
//
// Webhooks go to Config.WebhookURL, or when it is empty to the preference's notification_url,
// as POST <url>?data.id=<id>&type=payment with a JSON body and the x-signature and
// x-request-id headers MercadoPago sends. Each is sent in the background and retried while the
// receiver does not answer 200 or 201.
package simulator

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultWebhookAttempts = 5
	DefaultWebhookBackoff  = 500 * time.Millisecond
	DefaultCollectorID     = 1234567890
)

// Config configures a Simulator. Only WebhookSecret is needed to send verifiable webhooks.
type Config struct {
	// WebhookURL receives every webhook. When empty, the preference's notification_url is
	// used, and a payment with neither is not notified.
	WebhookURL string
	// WebhookSecret signs webhooks (x-signature). When empty, webhooks are sent unsigned.
	WebhookSecret string
	// PublicBaseURL prefixes the checkout URLs (init_point) handed out, for example
	// "http://localhost:8090". When empty, the scheme and host of the creating request are
	// used.
	PublicBaseURL string
	// Clock stamps payments, refunds and webhook signatures. Defaults to time.Now.
	Clock func() time.Time
	// Logger reports webhook deliveries. Defaults to slog.Default().
	Logger *slog.Logger
	// WebhookClient sends webhooks. Defaults to a client with a 10 s timeout.
	WebhookClient *http.Client
	// WebhookAttempts is how many times a webhook is sent before giving up.
	WebhookAttempts int
	// WebhookBackoff is the wait after the first failed attempt; it doubles after each.
	WebhookBackoff time.Duration
	// CollectorID is the seller's user id, reported in preferences, payments and webhooks.
	CollectorID int64
}

// Simulator is an in-memory MercadoPago. It is safe for concurrent use. Call Close when done
// to stop webhook deliveries still in progress.
type Simulator struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	// ctx is canceled by Close to stop webhook deliveries and delayed answers.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards everything below; methods named ...Locked expect it held.
	mu     sync.Mutex
	closed bool
	state
}

// state is the simulated account. Its zero value is empty.
type state struct {
	preferences     map[string]*preferenceState
	preferenceOrder []string
	payments        map[int64]*paymentState
	paymentOrder    []int64
	idempotent      map[string]cachedAnswer
	faults          []*fault
	deliveries      []*delivery

	lastPaymentID      int64
	lastRefundID       int64
	lastNotificationID int64
}

// Payment and refund ids count up from these bases; they fit in 32 bits, like the SDK's int on
// every platform.
const (
	paymentIDBase = 1_000_000_000
	refundIDBase  = 1_500_000_000
)

func newState() state {
	return state{
		preferences:   map[string]*preferenceState{},
		payments:      map[int64]*paymentState{},
		idempotent:    map[string]cachedAnswer{},
		lastPaymentID: paymentIDBase,
		lastRefundID:  refundIDBase,
	}
}

// New returns a Simulator with an empty account.
func New(cfg Config) *Simulator {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.WebhookAttempts <= 0 {
		cfg.WebhookAttempts = DefaultWebhookAttempts
	}
	if cfg.WebhookBackoff <= 0 {
		cfg.WebhookBackoff = DefaultWebhookBackoff
	}
	if cfg.CollectorID == 0 {
		cfg.CollectorID = DefaultCollectorID
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "mercadopago_simulator"),
		ctx:    ctx,
		cancel: cancel,
		state:  newState(),
	}
	s.mux = s.routes()
	return s
}

// ServeHTTP serves the MercadoPago API, the checkout pages and the control API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops sending webhooks, abandons pending retries and waits for deliveries in flight.
// The handler keeps answering afterwards but sends no more webhooks.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()

	s.cancel()
	s.wg.Wait()
}

func (s *Simulator) routes() *http.ServeMux {
	mux := http.NewServeMux()

	mux.Handle("POST /checkout/preferences", s.api(s.createPreferenceLocked))
	mux.Handle("GET /v1/payments/search", s.withFaults(s.api(s.searchPaymentsLocked)))
	mux.Handle("GET /v1/payments/{id}", s.withFaults(s.api(s.getPaymentLocked)))
	mux.Handle("POST /v1/payments/{id}/refunds", s.withFaults(s.api(s.createRefundLocked)))

	mux.HandleFunc("GET /checkout/{id}", s.checkoutPage)
	mux.HandleFunc("POST /checkout/{id}/approve", s.checkoutDecision(true))
	mux.HandleFunc("POST /checkout/{id}/reject", s.checkoutDecision(false))

	mux.Handle("GET /_sim/state", s.control(s.stateLocked))
	mux.Handle("POST /_sim/payments", s.control(s.createPaymentLocked))
	mux.Handle("POST /_sim/payments/{id}/status", s.control(s.setStatusLocked))
	mux.Handle("POST /_sim/payments/{id}/notify", s.control(s.renotifyLocked))
	mux.Handle("POST /_sim/faults", s.control(s.addFaultLocked))
	mux.Handle("DELETE /_sim/faults", s.control(s.clearFaultsLocked))
	mux.Handle("POST /_sim/reset", s.control(s.resetLocked))

	return mux
}

func (s *Simulator) now() time.Time { return s.cfg.Clock() }
