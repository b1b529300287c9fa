package payments_test

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/projections/orders"
)

func TestCheckout_ApprovalOnTheCheckoutPagePaysTheOrder(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	e.discount(id, 150)

	co := e.checkout(id, http.StatusCreated)
	require.Equal(t, id, co.OrderID)
	require.Equal(t, 1, co.Attempt)
	require.Equal(t, domain.Money{Amount: 2*unitPrice + deliveryFee - 150, Currency: domain.ARS},
		co.Amount)
	require.NotEmpty(t, co.PreferenceID)
	require.Contains(t, co.CheckoutURL, e.simURL+"/checkout/")

	// The preference carries the order's amounts, its id and our webhook.
	var state struct {
		Preferences []struct {
			ID                string `json:"id"`
			ExternalReference string `json:"external_reference"`
			NotificationURL   string `json:"notification_url"`
			Items             []struct {
				Quantity  int     `json:"quantity"`
				UnitPrice float64 `json:"unit_price"`
			} `json:"items"`
		} `json:"preferences"`
	}
	e.control(http.MethodGet, "/_sim/state", nil, &state)
	require.Len(t, state.Preferences, 1)
	pref := state.Preferences[0]
	require.Equal(t, co.PreferenceID, pref.ID)
	require.Equal(t, id, pref.ExternalReference)
	require.Equal(t, e.engineURL+"/v1/webhooks/mercadopago", pref.NotificationURL)
	var total float64
	for _, it := range pref.Items {
		total += float64(it.Quantity) * it.UnitPrice
	}
	require.Equal(t, float64(co.Amount.Amount)/100, math.Round(total*100)/100)

	// Asking again while the checkout is open hands back the same one.
	again := e.checkout(id, http.StatusOK)
	require.Equal(t, co.PreferenceID, again.PreferenceID)
	require.Equal(t, co.CheckoutURL, again.CheckoutURL)

	e.decide(co.CheckoutURL, true)
	e.eventually(id, "the order to be paid", func(o *domain.PayableOrder, _ []string) bool {
		return o.Paid
	})
	o, types := e.order(id)
	require.Equal(t, []string{"OrderPlaced", "OrderDiscountApplied", "PaymentCheckoutStarted",
		"PaymentStatusRecorded", "OrderPaid"}, types)
	require.Equal(t, co.Amount, o.Ledger.PaidAmount)

	// The read models show it.
	status, list := e.payments(e.customer.Token, "?order_id="+id)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, list.Items, 1)
	p := list.Items[0]
	require.Equal(t, o.Ledger.PaidBy, p.ID)
	require.Equal(t, domain.PaymentApproved, p.Status)
	require.True(t, p.PaidOrder)
	require.Nil(t, p.Review)
	require.Equal(t, co.Amount, p.Amount)

	resp := e.api.As(e.customer.Token).Do(http.MethodGet, "/v1/payments/"+p.ID, nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var one paymentBody
	resp.JSON(t, &one)
	require.Len(t, one.History, 1)
	require.Equal(t, domain.PaymentApproved, one.History[0].Status)

	row, err := orders.NewReader(e.pool).Get(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	require.True(t, row.Paid)
	require.Equal(t, domain.PaymentApproved, *row.PaymentStatus)

	require.GreaterOrEqual(t, e.metric("webhook_notifications_total",
		map[string]string{"outcome": "accepted"}), 1.0)
	require.Equal(t, 1.0, e.metric("payments_by_status", map[string]string{"status": "approved"}))
	require.Eventually(t, func() bool { return e.metric("payment_inbox_backlog", nil) == 0 },
		5*time.Second, 10*time.Millisecond)

	// A paid order cannot be paid again.
	resp = e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/orders/"+id+"/payments", nil)
	require.Equal(t, http.StatusConflict, resp.Status)
	require.Equal(t, "conflict", resp.Code(t))
}

func TestCheckout_IsRefusedForOrdersThatCannotBePaidThroughMercadoPago(t *testing.T) {
	e := newEnv(t)
	cash := e.placeOrder(domain.PayCash)
	resp := e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/orders/"+cash+"/payments", nil)
	require.Equal(t, http.StatusConflict, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "conflict", resp.Code(t))

	cancelled := e.placeOrder(domain.PayMercadoPago)
	status, body := e.raw(http.MethodPost, "/v1/orders/"+cancelled+"/transitions", e.customer.Token,
		map[string]string{"to": "cancelled"})
	require.Equal(t, http.StatusOK, status, "body: %s", body)
	resp = e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/orders/"+cancelled+"/payments", nil)
	require.Equal(t, http.StatusConflict, resp.Status)
	require.Equal(t, "invalid_transition", resp.Code(t))

	open := e.placeOrder(domain.PayMercadoPago)
	resp = e.api.As(e.other.Token).Do(http.MethodPost, "/v1/orders/"+open+"/payments", nil)
	require.Equal(t, http.StatusNotFound, resp.Status, "another customer does not see the order")
	resp = e.api.As(e.owner.Token).Do(http.MethodPost, "/v1/orders/"+open+"/payments", nil)
	require.Equal(t, http.StatusForbidden, resp.Status, "the business does not pay")
	resp = e.api.Do(http.MethodPost, "/v1/orders/"+open+"/payments", nil)
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	resp = e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/orders/"+uuid.NewString()+"/payments", nil)
	require.Equal(t, http.StatusNotFound, resp.Status)

	var state struct {
		Preferences []any `json:"preferences"`
	}
	e.control(http.MethodGet, "/_sim/state", nil, &state)
	require.Empty(t, state.Preferences, "no refused checkout reached MercadoPago")
}

func TestCheckout_ARejectedPaymentLeavesTheOrderUnpaidAndASecondAttemptPays(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	first := e.checkout(id, http.StatusCreated)

	e.decide(first.CheckoutURL, false)
	e.eventually(id, "the rejection", func(_ *domain.PayableOrder, types []string) bool {
		return count(types, "PaymentStatusRecorded") == 1
	})
	o, _ := e.order(id)
	require.False(t, o.Paid)
	e.awaitAll()
	row, err := orders.NewReader(e.pool).Get(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	require.False(t, row.Paid)
	require.Equal(t, domain.PaymentRejected, *row.PaymentStatus)

	second := e.checkout(id, http.StatusCreated)
	require.Equal(t, 2, second.Attempt)
	require.NotEqual(t, first.PreferenceID, second.PreferenceID)

	e.decide(second.CheckoutURL, true)
	e.eventually(id, "the order to be paid", func(o *domain.PayableOrder, _ []string) bool {
		return o.Paid
	})
	_, types := e.order(id)
	require.Equal(t, 2, count(types, "PaymentCheckoutStarted"))
	require.Equal(t, 1, count(types, "OrderPaid"))

	_, list := e.payments(e.customer.Token, "?order_id="+id)
	require.Len(t, list.Items, 2)
	require.Equal(t, domain.PaymentApproved, list.Items[0].Status, "newest first")
	require.Equal(t, domain.PaymentRejected, list.Items[1].Status)
	_, rejected := e.payments(e.admin.Token, "?status=rejected")
	require.Len(t, rejected.Items, 1)
}
