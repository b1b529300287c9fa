package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"comanda/mercadopago"
)

// maxBody bounds the request bodies the simulator reads.
const maxBody = 1 << 20

// answer is what an API or control handler produces: an HTTP status and a JSON body.
type answer struct {
	status int
	body   any
}

// cachedAnswer is a successful POST answer kept for its idempotency key.
type cachedAnswer struct {
	status int
	body   []byte
}

// apiErrorWire is the JSON MercadoPago sends with an error status.
type apiErrorWire struct {
	Message string   `json:"message"`
	Error   string   `json:"error"`
	Status  int      `json:"status"`
	Cause   []string `json:"cause"`
}

func apiError(status int, code, format string, args ...any) answer {
	return answer{status: status, body: apiErrorWire{
		Message: fmt.Sprintf(format, args...),
		Error:   code,
		Status:  status,
		Cause:   []string{},
	}}
}

// api wraps an API handler: it checks for a bearer token, reads the body, runs the handler
// under the lock and replays the first successful answer to a repeated X-Idempotency-Key.
func (s *Simulator) api(h func(r *http.Request, body []byte) answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			writeAnswer(w, apiError(http.StatusUnauthorized, "unauthorized", "missing access token"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeAnswer(w, apiError(http.StatusBadRequest, "bad_request", "unreadable body"))
			return
		}

		cacheKey := ""
		if key := r.Header.Get("X-Idempotency-Key"); key != "" && r.Method != http.MethodGet {
			cacheKey = r.Method + " " + r.URL.Path + " " + key
		}

		s.mu.Lock()
		if cached, ok := s.idempotent[cacheKey]; ok && cacheKey != "" {
			s.mu.Unlock()
			writeRaw(w, cached.status, cached.body)
			return
		}
		a := h(r, body)
		raw := mustJSON(a.body)
		if cacheKey != "" && a.status < 300 {
			s.idempotent[cacheKey] = cachedAnswer{status: a.status, body: raw}
		}
		s.mu.Unlock()

		writeRaw(w, a.status, raw)
	})
}

func writeAnswer(w http.ResponseWriter, a answer) {
	writeRaw(w, a.status, mustJSON(a.body))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: simulator answer cannot be encoded: " + err.Error())
	}
	return b
}

// Wire shapes: the subset of MercadoPago's JSON that the SDK decodes and the client reads.

type preferenceRequestWire struct {
	Items []struct {
		ID         string  `json:"id"`
		Title      string  `json:"title"`
		CurrencyID string  `json:"currency_id"`
		Quantity   int     `json:"quantity"`
		UnitPrice  float64 `json:"unit_price"`
	} `json:"items"`
	ExternalReference string       `json:"external_reference"`
	NotificationURL   string       `json:"notification_url"`
	BackURLs          backURLsWire `json:"back_urls"`
	Payer             struct {
		Email string `json:"email"`
	} `json:"payer"`
}

type backURLsWire struct {
	Success string `json:"success"`
	Failure string `json:"failure"`
	Pending string `json:"pending"`
}

type preferenceWire struct {
	ID                string         `json:"id"`
	InitPoint         string         `json:"init_point"`
	SandboxInitPoint  string         `json:"sandbox_init_point"`
	ClientID          string         `json:"client_id"`
	CollectorID       int64          `json:"collector_id"`
	SiteID            string         `json:"site_id"`
	OperationType     string         `json:"operation_type"`
	Marketplace       string         `json:"marketplace"`
	ExternalReference string         `json:"external_reference"`
	NotificationURL   string         `json:"notification_url"`
	BackURLs          backURLsWire   `json:"back_urls"`
	Items             []itemWire     `json:"items"`
	Payer             payerWire      `json:"payer"`
	DateCreated       string         `json:"date_created"`
	DateOfExpiration  *string        `json:"date_of_expiration"`
	Metadata          map[string]any `json:"metadata"`
}

type itemWire struct {
	ID         string  `json:"id"`
	Title      string  `json:"title"`
	CurrencyID string  `json:"currency_id"`
	Quantity   int     `json:"quantity"`
	UnitPrice  float64 `json:"unit_price"`
}

type payerWire struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email"`
}

type paymentWire struct {
	ID                        int64          `json:"id"`
	Status                    string         `json:"status"`
	StatusDetail              string         `json:"status_detail"`
	TransactionAmount         float64        `json:"transaction_amount"`
	TransactionAmountRefunded float64        `json:"transaction_amount_refunded"`
	CurrencyID                string         `json:"currency_id"`
	ExternalReference         string         `json:"external_reference"`
	Description               string         `json:"description"`
	DateCreated               string         `json:"date_created"`
	DateApproved              *string        `json:"date_approved"`
	DateLastUpdated           string         `json:"date_last_updated"`
	PaymentMethodID           string         `json:"payment_method_id"`
	PaymentTypeID             string         `json:"payment_type_id"`
	OperationType             string         `json:"operation_type"`
	Installments              int            `json:"installments"`
	LiveMode                  bool           `json:"live_mode"`
	Captured                  bool           `json:"captured"`
	CollectorID               int64          `json:"collector_id"`
	Payer                     payerWire      `json:"payer"`
	Refunds                   []refundWire   `json:"refunds"`
	Metadata                  map[string]any `json:"metadata"`
}

type refundWire struct {
	ID                   int64      `json:"id"`
	PaymentID            int64      `json:"payment_id"`
	Amount               float64    `json:"amount"`
	Source               sourceWire `json:"source"`
	DateCreated          string     `json:"date_created"`
	UniqueSequenceNumber *string    `json:"unique_sequence_number"`
	RefundMode           string     `json:"refund_mode"`
	AdjustmentAmount     float64    `json:"adjustment_amount"`
	Status               string     `json:"status"`
	Reason               *string    `json:"reason"`
}

type sourceWire struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type searchWire struct {
	Paging struct {
		Total  int `json:"total"`
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
	} `json:"paging"`
	Results []paymentWire `json:"results"`
}

func (s *Simulator) preferenceWire(p *preferenceState) preferenceWire {
	out := preferenceWire{
		ID:                p.ID,
		InitPoint:         p.InitPoint,
		SandboxInitPoint:  p.InitPoint,
		ClientID:          strconv.FormatInt(s.cfg.CollectorID, 10),
		CollectorID:       s.cfg.CollectorID,
		SiteID:            siteIDs[p.Currency],
		OperationType:     "regular_payment",
		Marketplace:       "NONE",
		ExternalReference: p.ExternalReference,
		NotificationURL:   p.NotificationURL,
		BackURLs:          p.BackURLs,
		Payer:             payerWire{Email: p.PayerEmail},
		DateCreated:       p.DateCreated.Format(mpTimeLayout),
		Metadata:          map[string]any{},
	}
	for _, it := range p.Items {
		out.Items = append(out.Items, itemWire{
			ID:         it.ID,
			Title:      it.Title,
			CurrencyID: p.Currency,
			Quantity:   it.Quantity,
			UnitPrice:  major(it.UnitPrice, p.Currency),
		})
	}
	return out
}

func (s *Simulator) paymentWire(p *paymentState) paymentWire {
	out := paymentWire{
		ID:                        p.ID,
		Status:                    p.Status,
		StatusDetail:              p.StatusDetail,
		TransactionAmount:         major(p.Amount, p.Currency),
		TransactionAmountRefunded: major(p.Refunded, p.Currency),
		CurrencyID:                p.Currency,
		ExternalReference:         p.ExternalReference,
		Description:               "Simulated payment",
		DateCreated:               p.DateCreated.Format(mpTimeLayout),
		DateLastUpdated:           p.DateLastUpdated.Format(mpTimeLayout),
		PaymentMethodID:           "account_money",
		PaymentTypeID:             "account_money",
		OperationType:             "regular_payment",
		Installments:              1,
		Captured:                  true,
		CollectorID:               s.cfg.CollectorID,
		Payer:                     payerWire{ID: "987654321", Email: p.PayerEmail},
		Refunds:                   []refundWire{},
		Metadata:                  map[string]any{},
	}
	if p.DateApproved != nil {
		approved := p.DateApproved.Format(mpTimeLayout)
		out.DateApproved = &approved
	}
	for _, r := range p.Refunds {
		out.Refunds = append(out.Refunds, s.refundWire(p, r))
	}
	return out
}

func (s *Simulator) refundWire(p *paymentState, r refundState) refundWire {
	return refundWire{
		ID:        r.ID,
		PaymentID: p.ID,
		Amount:    major(r.Amount, p.Currency),
		Source: sourceWire{
			ID: strconv.FormatInt(s.cfg.CollectorID, 10), Name: "Simulator", Type: "collector",
		},
		DateCreated: r.DateCreated.Format(mpTimeLayout),
		RefundMode:  "standard",
		Status:      "approved",
	}
}

// createPreferenceLocked handles POST /checkout/preferences.
func (s *Simulator) createPreferenceLocked(r *http.Request, body []byte) answer {
	var req preferenceRequestWire
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError(http.StatusBadRequest, "bad_request", "invalid JSON: %v", err)
	}
	if len(req.Items) == 0 {
		return apiError(http.StatusBadRequest, "invalid_items", "items needed")
	}

	pref := &preferenceState{
		ExternalReference: req.ExternalReference,
		NotificationURL:   req.NotificationURL,
		Currency:          req.Items[0].CurrencyID,
		BackURLs:          req.BackURLs,
		PayerEmail:        req.Payer.Email,
		DateCreated:       s.now(),
	}
	for i, it := range req.Items {
		if it.CurrencyID != pref.Currency {
			return apiError(http.StatusBadRequest, "invalid_items",
				"item %d: all items must share one currency_id", i)
		}
		if it.Quantity < 1 || it.UnitPrice <= 0 {
			return apiError(http.StatusBadRequest, "invalid_items",
				"item %d: quantity and unit_price must be positive", i)
		}
		price, err := mercadopago.MajorToMinor(it.UnitPrice, pref.Currency)
		if err != nil {
			return apiError(http.StatusBadRequest, "invalid_items", "item %d: %v", i, err)
		}
		if price > (1<<53)/int64(it.Quantity) || pref.Total > (1<<53)-price*int64(it.Quantity) {
			return apiError(http.StatusBadRequest, "invalid_items", "item %d: amount too large", i)
		}
		pref.Items = append(pref.Items, itemState{
			ID: it.ID, Title: it.Title, Quantity: it.Quantity, UnitPrice: price,
		})
		pref.Total += price * int64(it.Quantity)
	}

	pref.ID = fmt.Sprintf("%d-%s", s.cfg.CollectorID, uuid.NewString())
	pref.InitPoint = s.publicBaseURL(r) + "/checkout/" + pref.ID
	s.preferences[pref.ID] = pref
	s.preferenceOrder = append(s.preferenceOrder, pref.ID)

	return answer{status: http.StatusCreated, body: s.preferenceWire(pref)}
}

// publicBaseURL is the base of the checkout URLs handed out.
func (s *Simulator) publicBaseURL(r *http.Request) string {
	if s.cfg.PublicBaseURL != "" {
		return strings.TrimSuffix(s.cfg.PublicBaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// paymentLocked finds the payment named by the request's {id}.
func (s *Simulator) paymentLocked(r *http.Request) (*paymentState, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, false
	}
	p, ok := s.payments[id]
	return p, ok
}

// getPaymentLocked handles GET /v1/payments/{id}.
func (s *Simulator) getPaymentLocked(r *http.Request, _ []byte) answer {
	p, ok := s.paymentLocked(r)
	if !ok {
		return apiError(http.StatusNotFound, "not_found", "Payment not found")
	}
	return answer{status: http.StatusOK, body: s.paymentWire(p)}
}

// searchPaymentsLocked handles GET /v1/payments/search, oldest first.
func (s *Simulator) searchPaymentsLocked(r *http.Request, _ []byte) answer {
	q := r.URL.Query()
	limit, offset := 30, 0
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 {
		limit = min(v, 1000)
	}
	if v, err := strconv.Atoi(q.Get("offset")); err == nil && v > 0 {
		offset = v
	}
	ref, filter := q.Get("external_reference"), q.Has("external_reference")

	var matched []*paymentState
	for _, id := range s.paymentOrder {
		if p := s.payments[id]; !filter || p.ExternalReference == ref {
			matched = append(matched, p)
		}
	}

	var out searchWire
	out.Paging.Total, out.Paging.Limit, out.Paging.Offset = len(matched), limit, offset
	out.Results = []paymentWire{}
	for i := offset; i < len(matched) && i < offset+limit; i++ {
		out.Results = append(out.Results, s.paymentWire(matched[i]))
	}
	return answer{status: http.StatusOK, body: out}
}

// createRefundLocked handles POST /v1/payments/{id}/refunds: no amount refunds what is left.
func (s *Simulator) createRefundLocked(r *http.Request, body []byte) answer {
	p, ok := s.paymentLocked(r)
	if !ok {
		return apiError(http.StatusNotFound, "not_found", "Payment not found")
	}
	if p.Status != "approved" {
		return apiError(http.StatusBadRequest, "bad_request",
			"Payment in status %s cannot be refunded", p.Status)
	}

	remaining := p.Amount - p.Refunded
	amount := remaining
	var req struct {
		Amount *float64 `json:"amount"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return apiError(http.StatusBadRequest, "bad_request", "invalid JSON: %v", err)
		}
	}
	if req.Amount != nil {
		minor, err := mercadopago.MajorToMinor(*req.Amount, p.Currency)
		if err != nil || minor <= 0 {
			return apiError(http.StatusBadRequest, "bad_request", "invalid refund amount")
		}
		amount = minor
	}
	if amount > remaining {
		return apiError(http.StatusBadRequest, "bad_request",
			"Refund amount exceeds the amount left to refund")
	}

	s.lastRefundID++
	refund := refundState{ID: s.lastRefundID, Amount: amount, DateCreated: s.now()}
	p.Refunds = append(p.Refunds, refund)
	p.Refunded += amount
	p.DateLastUpdated = refund.DateCreated
	if p.Refunded == p.Amount {
		p.Status, p.StatusDetail = "refunded", "refunded"
	} else {
		p.StatusDetail = "partially_refunded"
	}
	s.notifyLocked(p, "payment.updated")

	return answer{status: http.StatusCreated, body: s.refundWire(p, refund)}
}
