package simulator

import (
	"net/http"
	"time"
)

// Fault kinds accepted by POST /_sim/faults.
const (
	FaultError     = "error"      // answer with Status (default 500)
	FaultDelay     = "delay"      // wait DelayMS, then answer normally
	FaultRateLimit = "rate_limit" // answer 429
)

// fault makes the next Count requests to /v1/payments/* misbehave.
type fault struct {
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Status  int    `json:"status,omitempty"`
	DelayMS int    `json:"delay_ms,omitempty"`
}

// takeFault consumes one request's worth of the oldest pending fault, if any.
func (s *Simulator) takeFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	f.Count--
	if f.Count <= 0 {
		s.faults = s.faults[1:]
	}
	return *f, true
}

// withFaults applies pending faults before next handles the request.
func (s *Simulator) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := s.takeFault()
		if !ok {
			next.ServeHTTP(w, r)
			return
		}

		switch f.Kind {
		case FaultDelay:
			select {
			case <-time.After(time.Duration(f.DelayMS) * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-s.ctx.Done():
				return
			}
			next.ServeHTTP(w, r)
		case FaultRateLimit:
			w.Header().Set("Retry-After", "1")
			writeAnswer(w, apiError(http.StatusTooManyRequests, "too_many_requests",
				"Too many requests"))
		default:
			writeAnswer(w, apiError(f.Status, "internal_error", "Simulated failure"))
		}
	})
}
