// Package httpapi is the engine's JSON API on Echo: routing, authentication,
// problem+json errors, read-your-writes, metrics and the OpenAPI document.
// Handlers decode requests, call the domain and the event store, and encode
// responses; business rules live in the domain package, not here.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"comanda/eventstore"
	"comanda/projections"
)

// Config holds the HTTP layer's settings.
type Config struct {
	// CORSOrigins lists the frontend origins allowed to call the API.
	CORSOrigins []string
	// MaxBodyBytes caps JSON request bodies; 1 MiB by default. Uploads have
	// their own limit.
	MaxBodyBytes int64
	// ReadWait bounds how long a read waits for a projection to reach the
	// position the client asked for.
	ReadWait time.Duration
	// Version is reported by /health.
	Version string
}

// Deps are the parts the API is built from.
type Deps struct {
	Pool        *pgxpool.Pool
	Store       *eventstore.Store
	Projections *projections.Registry
	Metrics     prometheus.Registerer
	Gatherer    prometheus.Gatherer
	Logger      *slog.Logger
	// Now and NewID are injected so tests can be deterministic.
	Now   func() time.Time
	NewID func() uuid.UUID
}

// Server is the HTTP API.
type Server struct {
	echo *echo.Echo
	cfg  Config
	deps Deps
	log  *slog.Logger
	http *httpMetrics
	cmds *commandMetrics
}

// Module adds routes to the server; feature areas register through it.
type Module func(s *Server, api *echo.Group)

// New builds the API with its middleware and routes.
func New(cfg Config, deps Deps, modules ...Module) *Server {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewID == nil {
		deps.NewID = uuid.New
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.ReadWait <= 0 {
		cfg.ReadWait = 2 * time.Second
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, cfg: cfg, deps: deps, log: deps.Logger}
	s.http = newHTTPMetrics(deps.Metrics)
	s.cmds = newCommandMetrics(deps.Metrics)
	e.HTTPErrorHandler = s.errorHandler
	// TODO: the client address is the TCP peer; behind a reverse proxy every
	// caller shares the proxy's address for login rate limiting until the
	// proxy's ranges are made trusted with echo.ExtractIPFromXFFHeader.
	e.IPExtractor = echo.ExtractIPDirect()
	e.JSONSerializer = strictJSON{}

	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: func() string { return deps.NewID().String() },
	}))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(serverKey, s)
			return next(c)
		}
	})
	e.Use(s.observe)
	e.Use(middleware.Recover())
	e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:  cfg.CORSOrigins,
		AllowHeaders:  []string{"Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Min-Position"},
		ExposeHeaders: []string{"ETag", "Location", "X-Position", "X-Request-Id", "Retry-After"},
	}))
	// The hard cap on any body; JSON bodies have the lower MaxBodyBytes.
	e.Use(middleware.BodyLimit("32M"))

	e.GET("/health", s.health)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{})))
	e.GET("/openapi.yaml", s.openapiYAML)
	e.GET("/openapi.json", s.openapiJSON)
	e.GET("/docs", s.docs)

	api := e.Group("/v1")
	for _, m := range modules {
		m(s, api)
	}
	return s
}

// Echo exposes the router, for tests and for mounting extra pages.
func (s *Server) Echo() *echo.Echo { return s.echo }

// Deps returns the parts the server was built with.
func (s *Server) Deps() Deps { return s.deps }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// HTTPServer returns a net/http server for addr with timeouts set.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.echo,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

type healthReport struct {
	Status      string               `json:"status"`
	Version     string               `json:"version,omitempty"`
	Database    string               `json:"database"`
	Head        int64                `json:"head_position"`
	Projections []projections.Status `json:"projections"`
}

func (s *Server) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	rep := healthReport{Status: "ok", Database: "ok", Version: s.cfg.Version, Projections: []projections.Status{}}
	if err := s.deps.Pool.Ping(ctx); err != nil {
		rep.Status, rep.Database = "unavailable", "unreachable"
		return c.JSON(http.StatusServiceUnavailable, rep)
	}
	if head, err := s.deps.Store.Head(ctx); err == nil {
		rep.Head = head
	}
	if s.deps.Projections != nil {
		if sts, err := s.deps.Projections.Statuses(ctx); err == nil {
			rep.Projections = sts
		}
	}
	return c.JSON(http.StatusOK, rep)
}

// strictJSON decodes request bodies rejecting unknown fields and trailing
// data, and encodes responses with Echo's default encoder.
type strictJSON struct{}

func (strictJSON) Serialize(c echo.Context, i any, indent string) error {
	enc := json.NewEncoder(c.Response())
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(i)
}

func (strictJSON) Deserialize(c echo.Context, i any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(i); err != nil {
		return badJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badJSON(errors.New("unexpected data after the JSON body"))
	}
	return nil
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

const timeFormat = "2006-01-02T15:04:05.999999Z07:00"

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
