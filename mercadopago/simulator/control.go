package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"comanda/mercadopago"
)

// control wraps a control API handler: it reads the body and runs the handler under the lock.
func (s *Simulator) control(h func(r *http.Request, body []byte) answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeAnswer(w, controlError(http.StatusBadRequest, "unreadable body"))
			return
		}

		s.mu.Lock()
		a := h(r, body)
		raw := mustJSON(a.body)
		s.mu.Unlock()

		writeRaw(w, a.status, raw)
	})
}

func controlError(status int, message string) answer {
	return answer{status: status, body: map[string]string{"error": message}}
}

// decodeControl decodes an optional JSON body into v.
func decodeControl(body []byte, v any) bool {
	if strings.TrimSpace(string(body)) == "" {
		return true
	}
	return json.Unmarshal(body, v) == nil
}

// stateWire is the answer of GET /_sim/state.
type stateWire struct {
	Preferences []preferenceWire `json:"preferences"`
	Payments    []paymentWire    `json:"payments"`
	Faults      []fault          `json:"faults"`
	Webhooks    []delivery       `json:"webhooks"`
}

// stateLocked handles GET /_sim/state.
func (s *Simulator) stateLocked(_ *http.Request, _ []byte) answer {
	out := stateWire{
		Preferences: []preferenceWire{},
		Payments:    []paymentWire{},
		Faults:      []fault{},
		Webhooks:    []delivery{},
	}
	for _, id := range s.preferenceOrder {
		out.Preferences = append(out.Preferences, s.preferenceWire(s.preferences[id]))
	}
	for _, id := range s.paymentOrder {
		out.Payments = append(out.Payments, s.paymentWire(s.payments[id]))
	}
	for _, f := range s.faults {
		out.Faults = append(out.Faults, *f)
	}
	for _, d := range s.deliveries {
		out.Webhooks = append(out.Webhooks, *d)
	}
	return answer{status: http.StatusOK, body: out}
}

// createPaymentLocked handles POST /_sim/payments.
func (s *Simulator) createPaymentLocked(_ *http.Request, body []byte) answer {
	var in struct {
		PreferenceID      string `json:"preference_id"`
		ExternalReference string `json:"external_reference"`
		Status            string `json:"status"`
		StatusDetail      string `json:"status_detail"`
		AmountMinor       *int64 `json:"amount_minor"`
		Currency          string `json:"currency"`
		SkipWebhook       bool   `json:"skip_webhook"`
	}
	if !decodeControl(body, &in) {
		return controlError(http.StatusBadRequest, "invalid JSON")
	}
	if _, ok := defaultStatusDetail[in.Status]; !ok {
		return controlError(http.StatusBadRequest, "unknown status "+in.Status)
	}

	var pref *preferenceState
	if in.PreferenceID != "" {
		var ok bool
		if pref, ok = s.preferences[in.PreferenceID]; !ok {
			return controlError(http.StatusNotFound, "unknown preference")
		}
		if in.ExternalReference == "" {
			in.ExternalReference = pref.ExternalReference
		}
		if in.Currency == "" {
			in.Currency = pref.Currency
		}
		if in.AmountMinor == nil {
			in.AmountMinor = &pref.Total
		}
	}
	if in.AmountMinor == nil || *in.AmountMinor <= 0 {
		return controlError(http.StatusBadRequest, "amount_minor must be positive")
	}
	if _, ok := mercadopago.CurrencyExponent(in.Currency); !ok {
		return controlError(http.StatusBadRequest, "unsupported currency "+in.Currency)
	}

	p := s.newPaymentLocked(pref, in.Status, in.StatusDetail, *in.AmountMinor, in.Currency,
		in.ExternalReference)
	if in.SkipWebhook {
		p.LastAction = "payment.created"
	} else {
		s.notifyLocked(p, "payment.created")
	}
	return answer{status: http.StatusCreated, body: s.paymentWire(p)}
}

// setStatusLocked handles POST /_sim/payments/{id}/status. Any status may follow any other.
func (s *Simulator) setStatusLocked(r *http.Request, body []byte) answer {
	p, ok := s.paymentLocked(r)
	if !ok {
		return controlError(http.StatusNotFound, "unknown payment")
	}
	var in struct {
		Status       string `json:"status"`
		StatusDetail string `json:"status_detail"`
		SkipWebhook  bool   `json:"skip_webhook"`
	}
	if !decodeControl(body, &in) {
		return controlError(http.StatusBadRequest, "invalid JSON")
	}
	if _, ok := defaultStatusDetail[in.Status]; !ok {
		return controlError(http.StatusBadRequest, "unknown status "+in.Status)
	}

	now := s.now()
	p.Status, p.StatusDetail, p.DateLastUpdated = in.Status, in.StatusDetail, now
	if p.StatusDetail == "" {
		p.StatusDetail = defaultStatusDetail[in.Status]
	}
	if in.Status == "approved" && p.DateApproved == nil {
		p.DateApproved = &now
	}
	if in.Status == "refunded" {
		p.Refunded = p.Amount
	}
	if in.SkipWebhook {
		p.LastAction = "payment.updated"
	} else {
		s.notifyLocked(p, "payment.updated")
	}
	return answer{status: http.StatusOK, body: s.paymentWire(p)}
}

// renotifyLocked handles POST /_sim/payments/{id}/notify: the payment's last webhook again.
func (s *Simulator) renotifyLocked(r *http.Request, _ []byte) answer {
	p, ok := s.paymentLocked(r)
	if !ok {
		return controlError(http.StatusNotFound, "unknown payment")
	}
	action := p.LastAction
	if action == "" {
		action = "payment.created"
	}
	s.notifyLocked(p, action)
	return answer{status: http.StatusAccepted, body: s.paymentWire(p)}
}

// addFaultLocked handles POST /_sim/faults.
func (s *Simulator) addFaultLocked(_ *http.Request, body []byte) answer {
	var f fault
	if !decodeControl(body, &f) {
		return controlError(http.StatusBadRequest, "invalid JSON")
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	switch f.Kind {
	case FaultError:
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.Status < 400 || f.Status > 599 {
			return controlError(http.StatusBadRequest, "status must be 4xx or 5xx")
		}
	case FaultDelay:
		if f.DelayMS <= 0 {
			return controlError(http.StatusBadRequest, "delay_ms must be positive")
		}
	case FaultRateLimit:
	default:
		return controlError(http.StatusBadRequest, "kind must be error, delay or rate_limit")
	}

	s.faults = append(s.faults, &f)
	return answer{status: http.StatusCreated, body: f}
}

// clearFaultsLocked handles DELETE /_sim/faults.
func (s *Simulator) clearFaultsLocked(_ *http.Request, _ []byte) answer {
	s.faults = nil
	return answer{status: http.StatusOK, body: map[string]int{"faults": 0}}
}

// resetLocked handles POST /_sim/reset. Webhooks already on their way keep going.
func (s *Simulator) resetLocked(_ *http.Request, _ []byte) answer {
	s.state = newState()
	return answer{status: http.StatusOK, body: map[string]string{"status": "reset"}}
}
