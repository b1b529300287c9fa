package payments_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"comanda/domain"
)

type deadLetterList struct {
	Items []struct {
		ID        int64  `json:"id"`
		PaymentID string `json:"payment_id"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	} `json:"items"`
}

func (e *env) deadLetters(token string) (int, deadLetterList) {
	e.t.Helper()
	resp := e.api.As(token).Do(http.MethodGet, "/v1/admin/payments/dead-letters", nil)
	var out deadLetterList
	if resp.Status == http.StatusOK {
		resp.JSON(e.t, &out)
	}
	return resp.Status, out
}

func TestWorker_MercadoPagoFailingAndTimingOutThenRecoveringRecordsThePaymentOnce(t *testing.T) {
	e := newEnv(t, options{maxAttempts: 6})
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)

	// The next reads of the payment: two 500s, a 429, then one slower than
	// the client's timeout; the fifth succeeds.
	e.fault("error", 2, 0)
	e.fault("rate_limit", 1, 0)
	e.fault("delay", 1, 1500)
	e.decide(co.CheckoutURL, true)

	e.eventually(id, "the order to be paid", func(o *domain.PayableOrder, _ []string) bool {
		return o.Paid
	})
	_, types := e.order(id)
	require.Equal(t, 1, count(types, "OrderPaid"))
	require.Equal(t, 1, count(types, "PaymentStatusRecorded"))

	var attempts int
	require.Eventually(t, func() bool {
		var acked bool
		require.NoError(t, e.pool.QueryRow(e.ctx,
			"SELECT attempts, acked FROM payment_inbox").Scan(&attempts, &acked))
		return acked
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 5, attempts)
	require.Equal(t, 1, e.inbox(), "the webhook was stored once")

	_, dead := e.deadLetters(e.admin.Token)
	require.Empty(t, dead.Items)
}

func TestWorker_ANotificationThatFailsEveryAttemptIsADeadLetterAdminsRetry(t *testing.T) {
	e := newEnv(t, options{maxAttempts: 3})
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	e.fault("error", 3, 0)
	e.decide(co.CheckoutURL, true)

	require.Eventually(t, func() bool {
		return e.metric("payment_dead_letters", nil) == 1
	}, 10*time.Second, 20*time.Millisecond)
	o, _ := e.order(id)
	require.False(t, o.Paid)
	require.Zero(t, e.metric("payment_inbox_backlog", nil))

	status, list := e.deadLetters(e.auditor.Token)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, list.Items, 1)
	dead := list.Items[0]
	require.Equal(t, 3, dead.Attempts)
	require.Contains(t, dead.LastError, "500")
	status, _ = e.deadLetters(e.customer.Token)
	require.Equal(t, http.StatusForbidden, status)

	path := "/v1/admin/payments/dead-letters/" + strconv.FormatInt(dead.ID, 10) + "/retry"
	resp := e.api.As(e.auditor.Token).Do(http.MethodPost, path, nil)
	require.Equal(t, http.StatusForbidden, resp.Status, "auditors only read")
	resp = e.api.As(e.admin.Token).Do(http.MethodPost, path, nil)
	require.Equal(t, http.StatusAccepted, resp.Status, "body: %s", resp.Body)

	e.eventually(id, "the order to be paid", func(o *domain.PayableOrder, _ []string) bool {
		return o.Paid
	})
	_, list = e.deadLetters(e.admin.Token)
	require.Empty(t, list.Items)
	require.Zero(t, e.metric("payment_dead_letters", nil))
	resp = e.api.As(e.admin.Token).Do(http.MethodPost, path, nil)
	require.Equal(t, http.StatusNotFound, resp.Status, "no longer a dead letter")
	resp = e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/dead-letters/x/retry", nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
}

func TestWorker_APaymentForNoOrderOfOursIsSetAside(t *testing.T) {
	e := newEnv(t, options{noWorker: true})
	var p simPayment
	e.control(http.MethodPost, "/_sim/payments", map[string]any{"external_reference": "not-an-order",
		"status": "approved", "amount_minor": 100, "currency": "ARS", "skip_webhook": true}, &p)
	payment := strconv.FormatInt(p.ID, 10)
	resp := e.webhook(payment, "payment.created", "9", "req-9", webhookSecret, time.Now())
	require.Equal(t, http.StatusOK, resp.Status)

	done, err := e.svc.ProcessDue(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, done)
	var outcome string
	require.NoError(t, e.pool.QueryRow(e.ctx, "SELECT outcome FROM payment_inbox").Scan(&outcome))
	require.Equal(t, "unknown_order", outcome)
	require.Zero(t, e.metric("payment_dead_letters", nil))
}

func TestReconcile_RecordsAPaymentWhoseWebhookNeverCame(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	e.silentPayment(co.PreferenceID, domain.PaymentRejected, nil)
	e.silentPayment(co.PreferenceID, domain.PaymentApproved, nil)
	e.awaitAll()

	resp := e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile", nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.Equal(t, 0.0, resp.Map(t)["orders_checked"], "the checkout is younger than the threshold")
	o, _ := e.order(id)
	require.False(t, o.Paid)

	resp = e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile", nil)
	require.Equal(t, http.StatusForbidden, resp.Status)

	resp = e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile?min_age_seconds=0", nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	rep := resp.Map(t)
	require.Equal(t, 1.0, rep["orders_checked"])
	require.Equal(t, 2.0, rep["payments_found"])
	require.Equal(t, 2.0, rep["payments_recorded"])
	require.Equal(t, 0.0, rep["failures"])
	o, types := e.order(id)
	require.True(t, o.Paid)
	require.Equal(t, 1, count(types, "OrderPaid"))

	// Once more: the order is paid, so it is not even asked about.
	e.awaitAll()
	resp = e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile?min_age_seconds=0", nil)
	require.Equal(t, 0.0, resp.Map(t)["orders_checked"])
	_, after := e.order(id)
	require.Equal(t, types, after)

	resp = e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile?min_age_seconds=-1", nil)
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
}

func TestPayments_EachCallerSeesOnlyThePaymentsTheyMay(t *testing.T) {
	e := newEnv(t)
	id, payment := e.paidOrder()
	query := "?business_id=" + e.business.ID

	for name, tc := range map[string]struct {
		token, query string
		status, n    int
	}{
		"the customer":               {e.customer.Token, "", http.StatusOK, 1},
		"another customer":           {e.other.Token, "", http.StatusOK, 0},
		"the owner, per business":    {e.owner.Token, query, http.StatusOK, 1},
		"the owner, no business":     {e.owner.Token, "", http.StatusUnprocessableEntity, 0},
		"the staff":                  {e.staff.Token, "", http.StatusOK, 1},
		"an admin":                   {e.admin.Token, "?order_id=" + id, http.StatusOK, 1},
		"an auditor":                 {e.auditor.Token, "?status=approved", http.StatusOK, 1},
		"an admin, another status":   {e.admin.Token, "?status=rejected", http.StatusOK, 0},
		"an owner of someone else's": {e.other.Token, query, http.StatusOK, 0},
	} {
		status, list := e.payments(tc.token, tc.query)
		require.Equal(t, tc.status, status, name)
		require.Len(t, list.Items, tc.n, name)
	}

	resp := e.api.As(e.other.Token).Do(http.MethodGet, "/v1/payments/"+payment, nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
	resp = e.api.As(e.staff.Token).Do(http.MethodGet, "/v1/payments/"+payment, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	resp = e.api.As(e.admin.Token).Do(http.MethodGet, "/v1/payments/123", nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
	resp = e.api.Do(http.MethodGet, "/v1/payments", nil)
	require.Equal(t, http.StatusUnauthorized, resp.Status)
}

func TestPayments_ListsArePagedNewestFirst(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	var want []string
	for range 3 {
		want = append([]string{e.silentPayment(co.PreferenceID, domain.PaymentRejected, nil)}, want...)
	}
	e.awaitAll()
	_, err := e.svc.Reconcile(e.ctx, 0)
	require.NoError(t, err)

	var got []string
	query := "?limit=2"
	for {
		status, page := e.payments(e.admin.Token, query)
		require.Equal(t, http.StatusOK, status)
		for _, p := range page.Items {
			got = append(got, p.ID)
		}
		if page.NextCursor == nil {
			break
		}
		query = "?limit=2&cursor=" + *page.NextCursor
	}
	require.Equal(t, want, got)
}
