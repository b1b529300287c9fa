package payments_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/projections/orders"
)

type refundBody struct {
	PaymentID     string       `json:"payment_id"`
	RefundID      string       `json:"refund_id"`
	Amount        domain.Money `json:"amount"`
	RefundedTotal domain.Money `json:"refunded_total"`
	Position      int64        `json:"position"`
}

func TestRefund_APartialThenAFullRefundIsRecordedOnThePaymentAndTheOrder(t *testing.T) {
	e := newEnv(t)
	id, payment := e.paidOrder()
	o, _ := e.order(id)
	total := o.Ledger.PaidAmount

	resp := e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds", nil)
	require.Equal(t, http.StatusForbidden, resp.Status, "customers do not refund")
	resp = e.api.As(e.owner.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds",
		map[string]any{"amount": domain.Money{Amount: total.Amount + 1, Currency: domain.ARS}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "more than was paid")

	resp = e.api.As(e.owner.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds",
		map[string]any{"amount": domain.Money{Amount: 500, Currency: domain.ARS}},
		"Idempotency-Key", "refund-1")
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	var partial refundBody
	resp.JSON(t, &partial)
	require.Equal(t, payment, partial.PaymentID)
	require.NotEmpty(t, partial.RefundID)
	require.Equal(t, int64(500), partial.Amount.Amount)
	require.Equal(t, int64(500), partial.RefundedTotal.Amount)

	again := e.api.As(e.owner.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds",
		map[string]any{"amount": domain.Money{Amount: 500, Currency: domain.ARS}},
		"Idempotency-Key", "refund-1")
	require.Equal(t, http.StatusCreated, again.Status)
	require.JSONEq(t, string(resp.Body), string(again.Body), "a retry refunds nothing more")

	resp = e.api.As(e.staff.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds", nil)
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	var rest refundBody
	resp.JSON(t, &rest)
	require.Equal(t, total.Amount-500, rest.Amount.Amount)
	require.Equal(t, total, rest.RefundedTotal)

	resp = e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds", nil)
	require.Equal(t, http.StatusConflict, resp.Status, "nothing is left to refund")

	var state struct {
		Payments []struct {
			Status                    string  `json:"status"`
			TransactionAmountRefunded float64 `json:"transaction_amount_refunded"`
			Refunds                   []any   `json:"refunds"`
		} `json:"payments"`
	}
	e.control(http.MethodGet, "/_sim/state", nil, &state)
	require.Len(t, state.Payments[0].Refunds, 2, "MercadoPago made exactly two refunds")
	require.Equal(t, domain.PaymentRefunded, state.Payments[0].Status)

	e.eventually(id, "the refunds", func(o *domain.PayableOrder, _ []string) bool {
		return o.Ledger.Refunded == total
	})
	_, types := e.order(id)
	require.Equal(t, 2, count(types, "PaymentRefundRequested"))
	require.Equal(t, 2, count(types, "OrderRefunded"))

	e.awaitAll()
	row, err := orders.NewReader(e.pool).Get(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, total, row.Refunded)
	require.Equal(t, domain.PaymentRefunded, *row.PaymentStatus)
	resp = e.api.As(e.customer.Token).Do(http.MethodGet, "/v1/payments/"+payment, nil)
	var p paymentBody
	resp.JSON(t, &p)
	require.Equal(t, domain.PaymentRefunded, p.Status)
	require.Equal(t, total, p.Refunded)
	require.Equal(t, []string{"approved", "approved", "refunded"},
		[]string{p.History[0].Status, p.History[1].Status, p.History[2].Status})
}

func TestRefund_AnUnpaidOrderHasNothingToRefund(t *testing.T) {
	e := newEnv(t)
	id := e.placeOrder(domain.PayMercadoPago)
	resp := e.api.As(e.owner.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds", nil)
	require.Equal(t, http.StatusConflict, resp.Status)
	resp = e.api.As(e.other.Token).Do(http.MethodPost, "/v1/orders/"+id+"/refunds", nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
}

func TestCancel_APaidOrderIsRefundedInFull(t *testing.T) {
	e := newEnv(t)
	id, _ := e.paidOrder()
	o, _ := e.order(id)

	status, body := e.raw(http.MethodPost, "/v1/orders/"+id+"/transitions", e.customer.Token,
		map[string]string{"to": "cancelled"})
	require.Equal(t, http.StatusOK, status, "body: %s", body)

	e.eventually(id, "the refund", func(p *domain.PayableOrder, _ []string) bool {
		return p.Ledger.Refunded == o.Ledger.PaidAmount
	})
	_, types := e.order(id)
	require.Equal(t, 1, count(types, "PaymentRefundRequested"))
	require.Equal(t, 1, count(types, "OrderRefunded"))

	// Reconciliation finds nothing more to do.
	resp := e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile?min_age_seconds=0", nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	_, after := e.order(id)
	require.Equal(t, types, after)
}

func TestCancel_AFailedRefundIsRecordedAndReconciliationAsksAgain(t *testing.T) {
	e := newEnv(t)
	id, _ := e.paidOrder()
	o, _ := e.order(id)

	e.fault("error", 1, 0)
	status, body := e.raw(http.MethodPost, "/v1/orders/"+id+"/transitions", e.customer.Token,
		map[string]string{"to": "cancelled"})
	require.Equal(t, http.StatusOK, status, "the cancellation stands: %s", body)
	_, types := e.order(id)
	require.Equal(t, 1, count(types, "PaymentRefundFailed"))
	require.Zero(t, count(types, "PaymentRefundRequested"))

	e.awaitAll()
	resp := e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile?min_age_seconds=0", nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	rep := resp.Map(t)
	require.Equal(t, 1.0, rep["refunds_checked"])
	require.Equal(t, 1.0, rep["refunds_requested"])
	e.eventually(id, "the refund", func(p *domain.PayableOrder, _ []string) bool {
		return p.Ledger.Refunded == o.Ledger.PaidAmount
	})

	e.awaitAll()
	resp = e.api.As(e.admin.Token).Do(http.MethodPost, "/v1/admin/payments/reconcile?min_age_seconds=0", nil)
	require.Equal(t, 0.0, resp.Map(t)["refunds_checked"], "nothing is owed any more")
}
