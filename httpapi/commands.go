package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"comanda/domain"
	"comanda/eventstore"
)

// aggregate is state folded from a stream's events.
type aggregate interface{ Apply(domain.Event) }

// load folds every event of a stream into agg and returns the stream's
// version; a stream with no events returns 0.
func (s *Server) load(ctx context.Context, streamID string, agg aggregate) (int64, error) {
	events, err := s.deps.Store.ReadStream(ctx, streamID, 1)
	if err != nil {
		return 0, err
	}
	return foldEvents(events, agg)
}

func foldEvents(events []eventstore.Event, agg aggregate) (int64, error) {
	var v int64
	for _, e := range events {
		de, err := domain.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			return 0, fmt.Errorf("fold event %d of stream %s: %w", e.Position, e.StreamID, err)
		}
		agg.Apply(de)
		v = e.Version
	}
	return v, nil
}

// commandMetrics counts commands by type and outcome.
type commandMetrics struct{ total *prometheus.CounterVec }

func newCommandMetrics(reg prometheus.Registerer) *commandMetrics {
	m := &commandMetrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commands_total", Help: "Commands handled, by type and outcome.",
	}, []string{"command", "outcome"})}
	if reg != nil {
		reg.MustRegister(m.total)
	}
	// Export every series at 0 from the start, so rates and alerts work
	// before the first command of a kind.
	for _, c := range knownCommands {
		for _, o := range []string{"ok", "rejected", "conflict", "error"} {
			m.total.WithLabelValues(c, o)
		}
	}
	return m
}

var knownCommands = []string{"register_business", "change_business", "add_product", "change_product",
	"archive_product", "set_product_image", "create_order", "update_order", "transition_order",
	"apply_discount", "post_message", "start_checkout", "refund_order"}

func (m *commandMetrics) observe(command string, err error) {
	outcome := "ok"
	switch code := domain.ErrorCode(err); {
	case err == nil:
	case code == domain.CodeVersionConflict || code == domain.CodeConflict:
		outcome = "conflict"
	case errors.Is(err, eventstore.ErrConcurrency):
		outcome = "conflict"
	case code == domain.CodeInternal:
		outcome = "error"
	default:
		outcome = "rejected"
	}
	m.total.WithLabelValues(command, outcome).Inc()
}

// commit appends the events a command decided on to a stream, with metadata
// naming the caller, the request and, when the client sent one, the
// idempotency key (whose derived event ids make a retry append nothing).
func (s *Server) commit(c echo.Context, stream eventstore.Stream, expected eventstore.ExpectedVersion,
	events ...domain.Event) (eventstore.AppendResult, error) {
	ctx := c.Request().Context()
	actor := "anonymous"
	if p, ok := PrincipalOf(c); ok {
		actor = p.Actor().String()
	}
	key := c.Request().Header.Get("Idempotency-Key")
	now := s.deps.Now().UTC()
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		id := s.deps.NewID()
		cause := requestID(c)
		if key != "" {
			id = eventstore.NewEventID(actor+"/"+stream.ID+"/"+key, i)
			cause = key
		}
		out[i] = eventstore.NewEvent{Type: e.EventType(), Payload: payload,
			Metadata: eventstore.Metadata{EventID: id, CorrelationID: requestID(c), CausationID: cause,
				Actor: actor, OccurredAt: now}}
	}
	res, err := s.deps.Store.Append(ctx, stream, expected, out...)
	var ce *eventstore.ConcurrencyError
	if errors.As(err, &ce) {
		return res, &domain.Error{Code: domain.CodeVersionConflict, Err: err,
			Message: "the resource was changed by someone else; reload it and try again",
			Details: map[string]any{"current_version": ce.Actual}}
	}
	return res, err
}

// expectedFrom combines the version a command was decided on with the one
// the client sent in If-Match: a client version that is not the current one
// is a conflict straight away.
func expectedFrom(c echo.Context, loaded int64) (eventstore.ExpectedVersion, error) {
	want, err := ifMatch(c)
	if err != nil {
		return 0, err
	}
	if want >= 0 && want != loaded {
		return 0, &domain.Error{Code: domain.CodeVersionConflict,
			Message: fmt.Sprintf("the resource is at version %d, not %d", loaded, want),
			Details: map[string]any{"current_version": loaded}}
	}
	return eventstore.Exact(loaded), nil
}
