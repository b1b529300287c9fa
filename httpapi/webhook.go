package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"comanda/domain"
	"comanda/mercadopago"
	"comanda/payments"
)

// Outcomes of a webhook, the label of webhook_notifications_total.
const (
	webhookAccepted     = "accepted"
	webhookDuplicate    = "duplicate"
	webhookBadSignature = "bad_signature"
	webhookStale        = "stale"
	webhookInvalid      = "invalid"
	webhookIgnored      = "ignored"
)

// maxWebhookBody bounds a webhook's body; MercadoPago's are a few hundred
// bytes.
const maxWebhookBody = 64 << 10

func newWebhookCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhook_notifications_total",
		Help: "MercadoPago webhooks received, by outcome: accepted, duplicate, bad_signature, " +
			"stale, invalid or ignored (a verified notification about something other than a payment).",
	}, []string{"outcome"})
	if reg != nil {
		reg.MustRegister(c)
	}
	for _, o := range []string{webhookAccepted, webhookDuplicate, webhookBadSignature, webhookStale,
		webhookInvalid, webhookIgnored} {
		c.WithLabelValues(o)
	}
	return c
}

// webhookBody is the part of a MercadoPago notification the engine reads.
type webhookBody struct {
	ID     json.RawMessage `json:"id"`
	Type   string          `json:"type"`
	Action string          `json:"action"`
	Data   struct {
		ID json.RawMessage `json:"id"`
	} `json:"data"`
}

type webhookAnswer struct {
	Status string `json:"status"`
}

// webhook receives MercadoPago's payment notifications. The x-signature
// header is checked first, in constant time, against data.id from the query
// string and the x-request-id header; a missing, wrong or stale signature is
// refused with 401 and nothing is stored. A verified notification about a
// payment is stored in the inbox, once however often it is delivered, and
// answered with 200 at once; the inbox worker reads the payment from
// MercadoPago and records it.
func (h *paymentsAPI) webhook(c echo.Context) error {
	req := c.Request()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxWebhookBody))
	if err != nil {
		h.webhooks.WithLabelValues(webhookInvalid).Inc()
		return badJSON(err)
	}
	dataID := c.QueryParam("data.id")
	requestID := req.Header.Get("X-Request-Id")
	err = mercadopago.VerifySignature(h.d.WebhookSecret, req.Header.Get("X-Signature"), dataID,
		requestID, h.s.deps.Now(), h.d.WebhookWindow)
	switch {
	case errors.Is(err, mercadopago.ErrSignatureExpired):
		h.webhooks.WithLabelValues(webhookStale).Inc()
		return &domain.Error{Code: domain.CodeUnauthorized, Err: err,
			Message: "the notification's signature is too old or too far in the future"}
	case err != nil:
		h.webhooks.WithLabelValues(webhookBadSignature).Inc()
		return &domain.Error{Code: domain.CodeUnauthorized, Err: err,
			Message: "the notification's signature is missing or wrong"}
	}

	n, kind, err := parseNotification(c, body, dataID, requestID)
	if err != nil {
		h.webhooks.WithLabelValues(webhookInvalid).Inc()
		return err
	}
	if kind != "payment" {
		h.webhooks.WithLabelValues(webhookIgnored).Inc()
		return c.JSON(http.StatusOK, webhookAnswer{Status: webhookIgnored})
	}
	n.ReceivedAt = h.s.deps.Now()
	duplicate, err := h.d.Service.Enqueue(req.Context(), n)
	if err != nil {
		return err
	}
	outcome := webhookAccepted
	if duplicate {
		outcome = webhookDuplicate
	}
	h.webhooks.WithLabelValues(outcome).Inc()
	return c.JSON(http.StatusOK, webhookAnswer{Status: outcome})
}

// parseNotification reads a verified webhook: its type, and for a payment the
// notification to store. The payment id must be MercadoPago's positive
// integer, the same in the query string and the body.
func parseNotification(c echo.Context, body []byte, dataID, requestID string) (payments.Notification,
	string, error) {
	var b webhookBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &b); err != nil {
			return payments.Notification{}, "", badJSON(err)
		}
	}
	kind := c.QueryParam("type")
	if kind == "" {
		kind = b.Type
	}
	if kind != "payment" {
		return payments.Notification{}, kind, nil
	}
	var v domain.Validator
	n, err := strconv.ParseInt(dataID, 10, 64)
	v.Check(err == nil && n > 0, "data.id", "must be the payment's id, a positive whole number")
	if id := jsonText(b.Data.ID); id != "" {
		v.Check(id == dataID, "data.id", "the body names another payment than the query string")
	}
	if err := v.Err(); err != nil {
		return payments.Notification{}, kind, err
	}
	action := b.Action
	if action == "" {
		action = kind
	}
	notificationID := jsonText(b.ID)
	if notificationID == "" {
		notificationID = requestID
	}
	return payments.Notification{PaymentID: dataID, Action: action, NotificationID: notificationID,
		RequestID: requestID}, kind, nil
}

// jsonText returns a JSON string or number as text, or "".
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
