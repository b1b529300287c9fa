package httpapi

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

// observe records metrics for every request and logs it once at the edge,
// with ids and timings but never bodies or tokens.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) {
				status = he.Code
			} else if p, _ := problemFor(err); p.Status != 0 {
				status = p.Status
			}
			// Write the problem now so the status below is the one sent.
			s.errorHandler(err, c)
			err = nil
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		method := c.Request().Method
		s.http.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		s.http.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		// Failed requests are logged at info, the rest at debug, so a busy
		// engine's log stays readable; the metrics count every request.
		level := slog.LevelDebug
		if status >= 400 {
			level = slog.LevelInfo
		}
		s.log.Log(c.Request().Context(), level, "request", "request_id", requestID(c),
			"method", method, "route", route, "status", status, "duration_ms", elapsed.Milliseconds())
		return err
	}
}
