package mercadopago

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercadopago/sdk-go/pkg/config"
	"github.com/mercadopago/sdk-go/pkg/payment"
	"github.com/mercadopago/sdk-go/pkg/preference"
	"github.com/mercadopago/sdk-go/pkg/refund"
)

// DefaultTimeout bounds each HTTP request when no client is given with WithHTTPClient.
const DefaultTimeout = 10 * time.Second

// Client calls the MercadoPago API for one seller account. It is safe for concurrent use.
//
// Client never retries: the SDK's own retries are disabled because Client supplies the HTTP
// transport. A failed call returns an *Error whose Transient method tells whether a retry may
// succeed; retry POSTs with the same idempotency key (see WithIdempotencyKey).
type Client struct {
	preferences preference.Client
	payments    payment.Client
	refunds     refund.Client
}

// Option configures a Client built by New.
type Option func(*settings)

type settings struct {
	baseURL    string
	httpClient *http.Client
}

// WithBaseURL sends every request to rawURL instead of https://api.mercadopago.com, keeping the
// path the SDK chose (prefixed with rawURL's path, if it has one). It exists to point the
// client at the simulator.
func WithBaseURL(rawURL string) Option {
	return func(s *settings) { s.baseURL = rawURL }
}

// WithHTTPClient makes requests with c, whose Timeout (or Transport timeouts) bound each call.
// Without it, a client with DefaultTimeout is used.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) { s.httpClient = c }
}

// New returns a Client that authenticates with accessToken.
func New(accessToken string, opts ...Option) (*Client, error) {
	if accessToken == "" {
		return nil, fmt.Errorf("create client: empty access token: %w", ErrInvalidInput)
	}

	s := settings{}
	for _, opt := range opts {
		opt(&s)
	}
	if s.httpClient == nil {
		s.httpClient = &http.Client{Timeout: DefaultTimeout}
	}

	r := &requester{client: s.httpClient}
	if s.baseURL != "" {
		base, err := url.Parse(s.baseURL)
		if err != nil {
			return nil, fmt.Errorf("parse base URL: %w", err)
		}
		if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return nil, fmt.Errorf("parse base URL %q: want http(s)://host: %w",
				s.baseURL, ErrInvalidInput)
		}
		r.base = base
	}

	cfg, err := config.New(accessToken, config.WithHTTPClient(r))
	if err != nil {
		return nil, fmt.Errorf("configure SDK: %w", err)
	}
	return &Client{
		preferences: preference.NewClient(cfg),
		payments:    payment.NewClient(cfg),
		refunds:     refund.NewClient(cfg),
	}, nil
}

type idempotencyKeyContextKey struct{}

// WithIdempotencyKey returns a copy of ctx that makes the POST requests of a call carry key as
// their X-Idempotency-Key, in place of the random key the SDK would send. MercadoPago answers a
// repeated key with the original result instead of creating a second object, so a caller that
// retries a CreatePreference or Refund must reuse the key of the first attempt.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyContextKey{}, key)
}

func idempotencyKey(ctx context.Context) string {
	key, _ := ctx.Value(idempotencyKeyContextKey{}).(string)
	return key
}

// requester is the HTTP transport handed to the SDK: it redirects requests to the base URL
// override, applies the caller's idempotency key and marks transport failures.
type requester struct {
	client *http.Client
	base   *url.URL
}

// Do sends req on behalf of the SDK.
func (r *requester) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())

	if r.base != nil {
		out.URL.Scheme = r.base.Scheme
		out.URL.Host = r.base.Host
		out.URL.Path = strings.TrimSuffix(r.base.Path, "/") + out.URL.Path
		out.URL.RawPath = ""
		out.Host = ""
	}

	if key := idempotencyKey(out.Context()); key != "" && out.Method != http.MethodGet {
		out.Header.Set("X-Idempotency-Key", key)
	}

	resp, err := r.client.Do(out)
	if err != nil {
		return nil, &transportError{err: err}
	}
	return resp, nil
}
