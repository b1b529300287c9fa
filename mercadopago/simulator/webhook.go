package simulator

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"comanda/mercadopago"
)

// delivery records how the sending of one webhook went; the control API lists them.
type delivery struct {
	PaymentID  int64  `json:"payment_id"`
	Action     string `json:"action"`
	URL        string `json:"url"`
	Attempts   int    `json:"attempts"`
	Delivered  bool   `json:"delivered"`
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

// notificationWire is the body of a webhook.
type notificationWire struct {
	ID          int64  `json:"id"`
	LiveMode    bool   `json:"live_mode"`
	Type        string `json:"type"`
	DateCreated string `json:"date_created"`
	UserID      int64  `json:"user_id"`
	APIVersion  string `json:"api_version"`
	Action      string `json:"action"`
	Data        struct {
		ID string `json:"id"`
	} `json:"data"`
}

// notifyLocked sends, in the background, a webhook with action about p.
func (s *Simulator) notifyLocked(p *paymentState, action string) {
	p.LastAction = action
	if s.closed {
		return
	}

	target := s.cfg.WebhookURL
	if target == "" {
		target = p.NotificationURL
	}
	if target == "" {
		s.log.Info("no webhook URL, notification dropped", "payment_id", p.ID, "action", action)
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		s.log.Warn("bad webhook URL, notification dropped", "payment_id", p.ID, "error", err)
		return
	}
	dataID := strconv.FormatInt(p.ID, 10)
	q := u.Query()
	q.Set("data.id", dataID)
	q.Set("type", "payment")
	u.RawQuery = q.Encode()

	s.lastNotificationID++
	n := notificationWire{
		ID:          s.lastNotificationID,
		Type:        "payment",
		DateCreated: s.now().Format(mpTimeLayout),
		UserID:      s.cfg.CollectorID,
		APIVersion:  "v1",
		Action:      action,
	}
	n.Data.ID = dataID

	d := &delivery{PaymentID: p.ID, Action: action, URL: u.String()}
	s.deliveries = append(s.deliveries, d)
	s.wg.Add(1)
	go s.deliver(d, dataID, mustJSON(n))
}

// deliver posts a webhook until the receiver answers 200 or 201, the attempts run out or the
// simulator is closed.
func (s *Simulator) deliver(d *delivery, dataID string, body []byte) {
	defer s.wg.Done()

	backoff := s.cfg.WebhookBackoff
	for attempt := 1; ; attempt++ {
		status, err := s.post(d.URL, dataID, body)
		delivered := err == nil && (status == http.StatusOK || status == http.StatusCreated)

		s.mu.Lock()
		d.Attempts, d.LastStatus, d.Delivered = attempt, status, delivered
		d.LastError = ""
		if err != nil {
			d.LastError = err.Error()
		}
		s.mu.Unlock()

		if delivered {
			return
		}
		if attempt >= s.cfg.WebhookAttempts {
			s.log.Warn("webhook not delivered", "payment_id", d.PaymentID, "action", d.Action,
				"attempts", attempt, "status", status, "error", err)
			return
		}

		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// post sends one attempt of a webhook, signed afresh, and returns the receiver's status.
func (s *Simulator) post(target, dataID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	requestID := uuid.NewString()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "MercadoPago WebHook v1.0 payment")
	req.Header.Set("X-Request-Id", requestID)
	if s.cfg.WebhookSecret != "" {
		req.Header.Set("X-Signature",
			mercadopago.Sign(s.cfg.WebhookSecret, dataID, requestID, s.now()))
	}

	resp, err := s.cfg.WebhookClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("send webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
