package projections

import "github.com/prometheus/client_golang/prometheus"

// Metrics holds the Prometheus collectors of every projector.
type Metrics struct {
	position *prometheus.GaugeVec
	head     prometheus.Gauge
	lag      *prometheus.GaugeVec
	lagSecs  *prometheus.GaugeVec
	appliedC *prometheus.CounterVec
	errors   *prometheus.CounterVec
	rebuild  *prometheus.GaugeVec
}

// NewMetrics creates the projector collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		position: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projection_position", Help: "Global position a projection has committed.",
		}, []string{"projection"}),
		head: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projection_head_position", Help: "Newest global position in the event log.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projection_lag_events", Help: "Events a projection has yet to apply.",
		}, []string{"projection"}),
		lagSecs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projection_lag_seconds",
			Help: "Age of the oldest event a projection has yet to apply.",
		}, []string{"projection"}),
		appliedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projection_events_applied_total", Help: "Events applied by a projection.",
		}, []string{"projection"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projection_handler_errors_total", Help: "Failed attempts to apply events.",
		}, []string{"projection"}),
		rebuild: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projection_rebuild_progress_ratio",
			Help: "Share of the log a running rebuild has applied (0 to 1).",
		}, []string{"projection"}),
	}
	reg.MustRegister(m.position, m.head, m.lag, m.lagSecs, m.appliedC, m.errors, m.rebuild)
	return m
}

func (m *Metrics) applied(name string, n int) {
	if m != nil {
		m.appliedC.WithLabelValues(name).Add(float64(n))
	}
}

func (m *Metrics) handlerError(name string) {
	if m != nil {
		m.errors.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) observe(st Status) {
	if m == nil {
		return
	}
	m.position.WithLabelValues(st.Name).Set(float64(st.Position))
	m.head.Set(float64(st.Head))
	m.lag.WithLabelValues(st.Name).Set(float64(st.LagEvents))
	m.lagSecs.WithLabelValues(st.Name).Set(st.LagSeconds)
	m.errors.WithLabelValues(st.Name).Add(0)
	m.appliedC.WithLabelValues(st.Name).Add(0)
}

// SetRebuildProgress records how far a rebuild of a projection has come.
func (m *Metrics) SetRebuildProgress(name string, ratio float64) {
	if m != nil {
		m.rebuild.WithLabelValues(name).Set(ratio)
	}
}
