package payments_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/projections/orders"
)

// silentPayment creates a payment on the simulator without a webhook.
func (e *env) silentPayment(preferenceID, status string, amount *int64) string {
	e.t.Helper()
	body := map[string]any{"preference_id": preferenceID, "status": status, "skip_webhook": true}
	if amount != nil {
		body["amount_minor"] = *amount
	}
	var p simPayment
	e.control(http.MethodPost, "/_sim/payments", body, &p)
	return strconv.FormatInt(p.ID, 10)
}

func TestWebhook_ARepeatedDeliveryIsStoredOnceAndProcessedOnce(t *testing.T) {
	e := newEnv(t, options{noWorker: true})
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	payment := e.silentPayment(co.PreferenceID, domain.PaymentApproved, nil)
	now := time.Now()

	first := e.webhook(payment, "payment.created", "501", "req-1", webhookSecret, now)
	require.Equal(t, http.StatusOK, first.Status, "body: %s", first.Body)
	require.Equal(t, "accepted", first.Map(t)["status"])
	replay := e.webhook(payment, "payment.created", "501", "req-1", webhookSecret, now)
	require.Equal(t, "duplicate", replay.Map(t)["status"], "the same request again")
	retry := e.webhook(payment, "payment.created", "501", "req-2", webhookSecret, now.Add(time.Second))
	require.Equal(t, "duplicate", retry.Map(t)["status"], "MercadoPago's retry: a new request id")
	require.Equal(t, 1, e.inbox())
	require.Equal(t, 2.0, e.metric("webhook_notifications_total", map[string]string{"outcome": "duplicate"}))
	require.Equal(t, 1.0, e.metric("payment_inbox_backlog", nil))

	done, err := e.svc.ProcessDue(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, done)
	o, types := e.order(id)
	require.True(t, o.Paid)
	require.Equal(t, 1, count(types, "OrderPaid"))
	require.Zero(t, e.metric("payment_inbox_backlog", nil))

	// A later notification about the same payment is new, and changes nothing.
	update := e.webhook(payment, "payment.updated", "502", "req-3", webhookSecret, now)
	require.Equal(t, "accepted", update.Map(t)["status"])
	_, err = e.svc.ProcessDue(e.ctx)
	require.NoError(t, err)
	_, after := e.order(id)
	require.Equal(t, types, after)
	var outcome string
	require.NoError(t, e.pool.QueryRow(e.ctx,
		"SELECT outcome FROM payment_inbox WHERE notification_id = '502'").Scan(&outcome))
	require.Equal(t, "unchanged", outcome)
}

func TestWebhook_OutOfOrderAndStaleNewsChangeNothing(t *testing.T) {
	e := newEnv(t, options{noWorker: true})
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	payment := e.silentPayment(co.PreferenceID, domain.PaymentPending, nil)
	e.control(http.MethodPost, "/_sim/payments/"+payment+"/status",
		map[string]any{"status": "approved", "skip_webhook": true}, nil)
	now := time.Now()

	// The update arrives before the creation; both read the payment as it is.
	e.webhook(payment, "payment.updated", "702", "req-b", webhookSecret, now)
	e.webhook(payment, "payment.created", "701", "req-a", webhookSecret, now)
	_, err := e.svc.ProcessDue(e.ctx)
	require.NoError(t, err)
	o, types := e.order(id)
	require.True(t, o.Paid)
	require.Equal(t, []string{"OrderPlaced", "PaymentCheckoutStarted", "PaymentStatusRecorded",
		"OrderPaid"}, types, "the pending status was never seen, and the approval is recorded once")

	// MercadoPago now answers with a stale "pending": an approved payment
	// only moves on to refunds, chargebacks and mediation.
	e.control(http.MethodPost, "/_sim/payments/"+payment+"/status",
		map[string]any{"status": "pending", "skip_webhook": true}, nil)
	e.webhook(payment, "payment.updated", "703", "req-c", webhookSecret, now)
	_, err = e.svc.ProcessDue(e.ctx)
	require.NoError(t, err)
	o, after := e.order(id)
	require.Equal(t, types, after)
	require.True(t, o.Paid)
	require.Equal(t, domain.PaymentApproved, o.Ledger.Payments[payment].Status)
}

func TestWebhook_ABadSignatureOrAStaleTimestampIsRefusedAndRecordsNothing(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	payment := e.silentPayment(co.PreferenceID, domain.PaymentApproved, nil)
	now := time.Now()

	for name, resp := range map[string]func() int{
		"wrong secret": func() int {
			return e.webhook(payment, "payment.created", "1", "req-1", "not-the-secret", now).Status
		},
		"no signature": func() int {
			return e.webhook(payment, "payment.created", "2", "req-2", "", now).Status
		},
		"signed for another payment": func() int {
			return e.api.Do(http.MethodPost, "/v1/webhooks/mercadopago?data.id="+payment+"&type=payment",
				[]byte(`{"type":"payment","action":"payment.created","data":{"id":"`+payment+`"}}`),
				"X-Request-Id", "req-3", "X-Signature", sign("999", "req-3", now)).Status
		},
	} {
		require.Equal(t, http.StatusUnauthorized, resp(), name)
	}
	tampered := e.api.Do(http.MethodPost, "/v1/webhooks/mercadopago?data.id="+payment+"&type=payment",
		[]byte(`{"type":"payment","action":"payment.created","data":{"id":"`+payment+`"}}`),
		"X-Request-Id", "req-4", "X-Signature", sign(payment, "req-other", now))
	require.Equal(t, http.StatusUnauthorized, tampered.Status, "the request id is signed")

	old := e.webhook(payment, "payment.created", "5", "req-5", webhookSecret, now.Add(-time.Hour))
	require.Equal(t, http.StatusUnauthorized, old.Status)
	require.Equal(t, "unauthorized", old.Code(t))
	future := e.webhook(payment, "payment.created", "6", "req-6", webhookSecret, now.Add(time.Hour))
	require.Equal(t, http.StatusUnauthorized, future.Status)

	require.Zero(t, e.inbox(), "nothing reached the inbox")
	_, types := e.order(id)
	require.Equal(t, []string{"OrderPlaced", "PaymentCheckoutStarted"}, types)
	require.Equal(t, 4.0, e.metric("webhook_notifications_total",
		map[string]string{"outcome": "bad_signature"}))
	require.Equal(t, 2.0, e.metric("webhook_notifications_total", map[string]string{"outcome": "stale"}))
	require.Zero(t, e.metric("webhook_notifications_total", map[string]string{"outcome": "accepted"}))
}

func TestWebhook_MalformedAndForeignNotificationsAreNotStored(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	sig := sign("abc", "req-1", now)
	resp := e.api.Do(http.MethodPost, "/v1/webhooks/mercadopago?data.id=abc&type=payment",
		[]byte(`{"type":"payment","action":"payment.created","data":{"id":"abc"}}`),
		"X-Request-Id", "req-1", "X-Signature", sig)
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "body: %s", resp.Body)

	sig = sign("77", "req-2", now)
	resp = e.api.Do(http.MethodPost, "/v1/webhooks/mercadopago?data.id=77&type=merchant_order",
		[]byte(`{"type":"merchant_order","action":"merchant_order.updated","data":{"id":"77"}}`),
		"X-Request-Id", "req-2", "X-Signature", sig)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "ignored", resp.Map(t)["status"])

	require.Zero(t, e.inbox())
	require.Equal(t, 1.0, e.metric("webhook_notifications_total", map[string]string{"outcome": "invalid"}))
	require.Equal(t, 1.0, e.metric("webhook_notifications_total", map[string]string{"outcome": "ignored"}))
}

func TestPayment_AnAmountMismatchLeavesTheOrderUnpaidForAdminsToReview(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	less := co.Amount.Amount - 100
	var p simPayment
	e.control(http.MethodPost, "/_sim/payments", map[string]any{"preference_id": co.PreferenceID,
		"status": "approved", "amount_minor": less}, &p)

	e.eventually(id, "the mismatch", func(_ *domain.PayableOrder, types []string) bool {
		return count(types, "PaymentAmountMismatch") == 1
	})
	o, types := e.order(id)
	require.False(t, o.Paid)
	require.Zero(t, count(types, "OrderPaid"))

	e.awaitAll()
	resp := e.api.As(e.admin.Token).Do(http.MethodGet, "/v1/admin/payments/mismatches", nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var list paymentList
	resp.JSON(t, &list)
	require.Len(t, list.Items, 1)
	mm := list.Items[0]
	require.Equal(t, strconv.FormatInt(p.ID, 10), mm.ID)
	require.Equal(t, domain.ReviewAmountMismatch, *mm.Review)
	require.Equal(t, co.Amount, *mm.Expected)
	require.Equal(t, less, mm.Amount.Amount)
	require.False(t, mm.PaidOrder)

	resp = e.api.As(e.auditor.Token).Do(http.MethodGet, "/v1/admin/payments/mismatches", nil)
	require.Equal(t, http.StatusOK, resp.Status)
	resp = e.api.As(e.customer.Token).Do(http.MethodGet, "/v1/admin/payments/mismatches", nil)
	require.Equal(t, http.StatusForbidden, resp.Status)

	row, err := orders.NewReader(e.pool).Get(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	require.False(t, row.Paid)
}

func TestPayment_AChargebackIsRecordedOnThePaymentAndTheOrder(t *testing.T) {
	e := newEnv(t)
	id, payment := e.paidOrder()

	e.control(http.MethodPost, "/_sim/payments/"+payment+"/status",
		map[string]any{"status": "charged_back"}, nil)
	e.eventually(id, "the chargeback", func(o *domain.PayableOrder, _ []string) bool {
		return o.Ledger.ChargedBack
	})
	_, types := e.order(id)
	require.Equal(t, 1, count(types, "OrderChargedBack"))

	e.awaitAll()
	row, err := orders.NewReader(e.pool).Get(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, domain.PaymentChargedBack, *row.PaymentStatus)
	resp := e.api.As(e.owner.Token).Do(http.MethodGet, "/v1/payments/"+payment, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	var p paymentBody
	resp.JSON(t, &p)
	require.Equal(t, domain.PaymentChargedBack, p.Status)
	require.Len(t, p.History, 2)

	refund := e.api.As(e.owner.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds", nil)
	require.Equal(t, http.StatusConflict, refund.Status, "a charged back payment is not refunded")
}
