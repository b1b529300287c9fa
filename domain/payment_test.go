package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"comanda/domain"
)

const (
	testOrderID  = "0b9c4a51-8f51-4a4f-9a52-111111111111"
	testCustomer = "c0000000-0000-0000-0000-000000000001"
	testBusiness = "b0000000-0000-0000-0000-000000000001"
	testOwner    = "00000000-0000-0000-0000-0000000000aa"
)

func ars(n int64) domain.Money { return domain.Money{Amount: n, Currency: domain.ARS} }

// payableOrder returns a placed order of 1500 ARS paid through MercadoPago,
// with the given events applied after it.
func payableOrder(t *testing.T, events ...domain.Event) *domain.PayableOrder {
	t.Helper()
	line := domain.Line{ProductID: "p1", Name: "Empanada", UnitPrice: ars(500), Quantity: 3,
		Total: ars(1500)}
	o := &domain.PayableOrder{}
	o.Apply(&domain.OrderPlaced{OrderID: testOrderID, BusinessID: testBusiness,
		CustomerID: testCustomer, Fulfillment: domain.Pickup, Lines: []domain.Line{line},
		PaymentMethod: domain.PayMercadoPago,
		Totals:        domain.ComputeTotals(domain.ARS, []domain.Line{line}, ars(0), nil)})
	for _, e := range events {
		o.Apply(e)
	}
	return o
}

// record applies RecordPayment's events to o and returns them.
func record(o *domain.PayableOrder, r domain.PaymentReport) []domain.Event {
	events := o.RecordPayment(r)
	for _, e := range events {
		o.Apply(e)
	}
	return events
}

func types(events []domain.Event) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.EventType())
	}
	return out
}

func report(id, status string, amount, refunded int64) domain.PaymentReport {
	return domain.PaymentReport{ID: id, Status: status, StatusDetail: status + "_detail",
		Amount: ars(amount), Refunded: refunded}
}

var customer = domain.Actor{ID: testCustomer, Role: domain.RoleCustomer}

func TestRecordPayment_ApprovedForTheTotalPaysTheOrder(t *testing.T) {
	o := payableOrder(t)

	events := record(o, report("1", domain.PaymentApproved, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded", "OrderPaid"}, types(events))
	rec := as[*domain.PaymentStatusRecorded](t, events[0])
	require.True(t, rec.OrderPayment)
	require.True(t, o.Paid)
	require.Equal(t, "1", o.Ledger.PaidBy)
	require.Equal(t, ars(1500), o.Ledger.PaidAmount)
}

func TestRecordPayment_TheSameReportTwiceAppendsNothing(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	require.Empty(t, o.RecordPayment(report("1", domain.PaymentApproved, 1500, 0)))
}

func TestRecordPayment_PendingThenApprovedPaysOnce(t *testing.T) {
	o := payableOrder(t)

	first := record(o, report("1", domain.PaymentPending, 1500, 0))
	require.Equal(t, []string{"PaymentStatusRecorded"}, types(first))
	require.False(t, o.Paid)

	second := record(o, report("1", domain.PaymentApproved, 1500, 0))
	require.Equal(t, []string{"PaymentStatusRecorded", "OrderPaid"}, types(second))
	require.True(t, o.Paid)
}

func TestRecordPayment_AStalePendingAfterApprovalIsIgnored(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	for _, stale := range []string{domain.PaymentPending, domain.PaymentInProcess,
		domain.PaymentAuthorized, domain.PaymentRejected, domain.PaymentCancelled} {
		require.Empty(t, o.RecordPayment(report("1", stale, 1500, 0)), stale)
	}
	require.True(t, o.Paid)
}

func TestRecordPayment_AFailedPaymentStaysFailed(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentRejected, 1500, 0))

	require.Empty(t, o.RecordPayment(report("1", domain.PaymentPending, 1500, 0)))
	require.Empty(t, o.RecordPayment(report("1", domain.PaymentApproved, 1500, 0)))
	require.False(t, o.Paid)
}

func TestRecordPayment_RejectedLeavesTheOrderUnpaidAndOpensANewAttempt(t *testing.T) {
	o := payableOrder(t)
	d, err := o.StartCheckout(customer)
	require.NoError(t, err)
	o.Apply(o.CheckoutStarted(d, "pref-1", "https://mp/checkout/pref-1"))

	events := record(o, report("1", domain.PaymentRejected, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded"}, types(events))
	rec := as[*domain.PaymentStatusRecorded](t, events[0])
	require.True(t, rec.OrderPayment)
	require.False(t, o.Paid)
	next, err := o.StartCheckout(customer)
	require.NoError(t, err)
	require.Nil(t, next.Reuse)
	require.Equal(t, 2, next.Attempt)
	require.NotEqual(t, d.IdempotencyKey(o.ID), next.IdempotencyKey(o.ID))
}

func TestRecordPayment_ADifferentAmountIsAMismatchAndDoesNotPay(t *testing.T) {
	o := payableOrder(t)

	events := record(o, report("1", domain.PaymentApproved, 1400, 0))

	require.Equal(t, []string{"PaymentStatusRecorded", "PaymentAmountMismatch"}, types(events))
	mm := as[*domain.PaymentAmountMismatch](t, events[1])
	require.Equal(t, ars(1500), mm.Expected)
	require.Equal(t, ars(1400), mm.Received)
	require.False(t, as[*domain.PaymentStatusRecorded](t, events[0]).OrderPayment)
	require.False(t, o.Paid)
	require.Equal(t, domain.ReviewAmountMismatch, o.Ledger.Payments["1"].Review)
}

func TestRecordPayment_ADifferentCurrencyIsAMismatch(t *testing.T) {
	o := payableOrder(t)
	r := report("1", domain.PaymentApproved, 1500, 0)
	r.Amount.Currency = domain.BRL

	require.Equal(t, []string{"PaymentStatusRecorded", "PaymentAmountMismatch"}, types(record(o, r)))
	require.False(t, o.Paid)
}

func TestRecordPayment_PartialThenFullRefundIsRecordedOnTheOrder(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	partial := record(o, report("1", domain.PaymentApproved, 1500, 500))
	full := record(o, report("1", domain.PaymentRefunded, 1500, 1500))

	require.Equal(t, []string{"PaymentStatusRecorded", "OrderRefunded"}, types(partial))
	require.Equal(t, ars(500), as[*domain.OrderRefunded](t, partial[1]).Amount)
	require.Equal(t, []string{"PaymentStatusRecorded", "OrderRefunded"}, types(full))
	refund := as[*domain.OrderRefunded](t, full[1])
	require.Equal(t, ars(1000), refund.Amount)
	require.Equal(t, ars(1500), refund.RefundedTotal)
	require.Equal(t, ars(1500), o.Ledger.Refunded)
	require.Zero(t, o.Ledger.Remaining().Amount)
}

func TestRecordPayment_ASmallerRefundedAmountIsStale(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))
	record(o, report("1", domain.PaymentApproved, 1500, 700))

	require.Empty(t, o.RecordPayment(report("1", domain.PaymentApproved, 1500, 200)))
	require.Empty(t, o.RecordPayment(report("1", domain.PaymentApproved, 1500, 0)))
}

func TestRecordPayment_RefundedWithoutAnAmountMeansEverything(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	events := record(o, report("1", domain.PaymentRefunded, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded", "OrderRefunded"}, types(events))
	require.Equal(t, ars(1500), o.Ledger.Refunded)
}

func TestRecordPayment_ChargebackIsRecordedOnTheOrderOnce(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	events := record(o, report("1", domain.PaymentChargedBack, 1500, 0))
	again := o.RecordPayment(report("1", domain.PaymentChargedBack, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded", "OrderChargedBack"}, types(events))
	require.Empty(t, again)
	require.True(t, o.Ledger.ChargedBack)
	require.Empty(t, o.RecordPayment(report("1", domain.PaymentApproved, 1500, 0)))
}

func TestRecordPayment_MediationThenApprovedIsRecorded(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded"},
		types(record(o, report("1", domain.PaymentInMediation, 1500, 0))))
	require.Equal(t, []string{"PaymentStatusRecorded"},
		types(record(o, report("1", domain.PaymentApproved, 1500, 0))))
	require.True(t, o.Paid)
}

func TestRecordPayment_AFirstSeenRefundedPaymentPaysThenRefunds(t *testing.T) {
	o := payableOrder(t)

	events := record(o, report("1", domain.PaymentRefunded, 1500, 1500))

	require.Equal(t, []string{"PaymentStatusRecorded", "OrderPaid", "OrderRefunded"}, types(events))
	require.True(t, o.Paid)
	require.Equal(t, ars(1500), o.Ledger.Refunded)
}

func TestRecordPayment_ASecondApprovedPaymentNeedsReview(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))

	events := record(o, report("2", domain.PaymentApproved, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded", "PaymentUnexpected"}, types(events))
	require.Equal(t, domain.ReviewAlreadyPaid, as[*domain.PaymentUnexpected](t, events[1]).Reason)
	require.False(t, as[*domain.PaymentStatusRecorded](t, events[0]).OrderPayment)
	require.Equal(t, "1", o.Ledger.PaidBy)
	require.Equal(t, []string{"PaymentStatusRecorded"},
		types(record(o, report("2", domain.PaymentRefunded, 1500, 1500))),
		"a refund of the extra payment is not a refund of the order")
	require.Zero(t, o.Ledger.Refunded.Amount)
}

func TestRecordPayment_AnApprovalForACancelledOrderNeedsReview(t *testing.T) {
	o := payableOrder(t, &domain.OrderStatusChanged{OrderID: testOrderID, From: domain.StatusPlaced,
		To: domain.StatusCancelled, ByRole: domain.RoleCustomer})

	events := record(o, report("1", domain.PaymentApproved, 1500, 0))

	require.Equal(t, []string{"PaymentStatusRecorded", "PaymentUnexpected"}, types(events))
	require.Equal(t, domain.ReviewOrderCancelled, as[*domain.PaymentUnexpected](t, events[1]).Reason)
	require.False(t, o.Paid)
}

func TestStartCheckout_IsRefusedForOrdersThatCannotBePaid(t *testing.T) {
	cash := payableOrder(t)
	cash.PaymentMethod = domain.PayCash
	paid := payableOrder(t)
	record(paid, report("1", domain.PaymentApproved, 1500, 0))
	cancelled := payableOrder(t, &domain.OrderStatusChanged{OrderID: testOrderID,
		From: domain.StatusPlaced, To: domain.StatusCancelled, ByRole: domain.RoleCustomer})

	for name, tc := range map[string]struct {
		o    *domain.PayableOrder
		code domain.Code
	}{
		"cash":      {cash, domain.CodeConflict},
		"paid":      {paid, domain.CodeConflict},
		"cancelled": {cancelled, domain.CodeInvalidTransition},
	} {
		_, err := tc.o.StartCheckout(customer)
		require.Equal(t, tc.code, domain.ErrorCode(err), name)
	}
}

func TestStartCheckout_OnlyTheOrdersCustomerPays(t *testing.T) {
	o := payableOrder(t)
	for _, a := range []domain.Actor{
		{ID: "someone-else", Role: domain.RoleCustomer},
		{ID: testOwner, Role: domain.RoleBusinessOwner},
		{ID: "admin", Role: domain.RoleAdmin},
	} {
		_, err := o.StartCheckout(a)
		require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err), a.String())
	}
}

func TestStartCheckout_AnOpenCheckoutIsHandedBackUntilTheTotalChanges(t *testing.T) {
	o := payableOrder(t)
	first, err := o.StartCheckout(customer)
	require.NoError(t, err)
	require.Equal(t, 1, first.Attempt)
	o.Apply(o.CheckoutStarted(first, "pref-1", "https://mp/checkout/pref-1"))

	again, err := o.StartCheckout(customer)
	require.NoError(t, err)
	require.NotNil(t, again.Reuse)
	require.Equal(t, "pref-1", again.Reuse.PreferenceID)

	o.Apply(&domain.OrderDiscountApplied{OrderID: testOrderID,
		Discount: domain.Discount{Kind: "fixed", Value: 100},
		Totals: domain.Totals{Subtotal: ars(1500), DeliveryFee: ars(0), Discount: ars(100),
			Total: ars(1400)}})
	changed, err := o.StartCheckout(customer)
	require.NoError(t, err)
	require.Nil(t, changed.Reuse)
	require.Equal(t, 2, changed.Attempt)
	require.Equal(t, ars(1400), changed.Amount)
}

func TestPlanRefund_RefundsWhatIsLeftOfThePayingPayment(t *testing.T) {
	owner := domain.Actor{ID: testOwner, Role: domain.RoleBusinessOwner}
	o := payableOrder(t)

	_, err := o.PlanRefund(owner, testOwner, nil)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err), "an unpaid order")

	record(o, report("1", domain.PaymentApproved, 1500, 0))
	_, err = o.PlanRefund(customer, testOwner, nil)
	require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err))

	tooMuch := ars(1501)
	_, err = o.PlanRefund(owner, testOwner, &tooMuch)
	require.Equal(t, domain.CodeValidation, domain.ErrorCode(err))
	other := domain.Money{Amount: 100, Currency: domain.BRL}
	_, err = o.PlanRefund(owner, testOwner, &other)
	require.Equal(t, domain.CodeValidation, domain.ErrorCode(err))

	part := ars(400)
	plan, err := o.PlanRefund(owner, testOwner, &part)
	require.NoError(t, err)
	require.Equal(t, domain.RefundPlan{PaymentID: "1", Amount: ars(400), Sequence: 1,
		Reason: domain.RefundRequested}, plan)
	o.Apply(plan.Requested(o.ID, "r1", domain.RoleBusinessOwner))
	record(o, report("1", domain.PaymentApproved, 1500, 400))

	rest, err := o.PlanRefund(owner, testOwner, nil)
	require.NoError(t, err)
	require.True(t, rest.Full)
	require.Equal(t, ars(1100), rest.Amount)
	require.Equal(t, 2, rest.Sequence)
	require.NotEqual(t, plan.IdempotencyKey(o.ID), rest.IdempotencyKey(o.ID))

	record(o, report("1", domain.PaymentRefunded, 1500, 1500))
	_, err = o.PlanRefund(owner, testOwner, nil)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err), "refunded in full")
}

func TestCancelRefund_IsOwedOnceForACancelledPaidOrder(t *testing.T) {
	o := payableOrder(t)
	record(o, report("1", domain.PaymentApproved, 1500, 0))
	_, owed := o.CancelRefund()
	require.False(t, owed, "the order is not cancelled")

	o.Apply(&domain.OrderStatusChanged{OrderID: testOrderID, From: domain.StatusPlaced,
		To: domain.StatusCancelled, ByRole: domain.RoleCustomer})
	plan, owed := o.CancelRefund()
	require.True(t, owed)
	require.Equal(t, ars(1500), plan.Amount)
	require.Equal(t, "comanda-cancel-refund-"+testOrderID, plan.IdempotencyKey(o.ID))

	o.Apply(&domain.PaymentRefundFailed{OrderID: testOrderID, PaymentID: "1", Amount: ars(1500),
		Reason: domain.RefundOrderCancelled, Error: "timeout", Retryable: true})
	_, owed = o.CancelRefund()
	require.True(t, owed, "a failed refund is still owed")

	o.Apply(plan.Requested(o.ID, "r1", ""))
	_, owed = o.CancelRefund()
	require.False(t, owed, "an accepted refund is not asked for again")
}

func TestCancelRefund_IsNotOwedForUnpaidOrChargedBackOrders(t *testing.T) {
	cancel := &domain.OrderStatusChanged{OrderID: testOrderID, From: domain.StatusPlaced,
		To: domain.StatusCancelled, ByRole: domain.RoleCustomer}
	unpaid := payableOrder(t, cancel)
	_, owed := unpaid.CancelRefund()
	require.False(t, owed)

	charged := payableOrder(t)
	record(charged, report("1", domain.PaymentApproved, 1500, 0))
	record(charged, report("1", domain.PaymentChargedBack, 1500, 0))
	charged.Apply(cancel)
	_, owed = charged.CancelRefund()
	require.False(t, owed)
}

func TestPaymentEvents_DecodeByTheirType(t *testing.T) {
	for _, e := range []domain.Event{
		&domain.PaymentCheckoutStarted{OrderID: testOrderID, Attempt: 1, Amount: ars(1)},
		&domain.PaymentStatusRecorded{OrderID: testOrderID, PaymentID: "1", Status: "approved"},
		&domain.OrderPaid{OrderID: testOrderID, PaymentID: "1", Amount: ars(1)},
		&domain.PaymentAmountMismatch{OrderID: testOrderID, PaymentID: "1"},
		&domain.PaymentUnexpected{OrderID: testOrderID, PaymentID: "1", Reason: "already_paid"},
		&domain.OrderRefunded{OrderID: testOrderID, PaymentID: "1", Amount: ars(1)},
		&domain.OrderChargedBack{OrderID: testOrderID, PaymentID: "1"},
		&domain.PaymentRefundRequested{OrderID: testOrderID, PaymentID: "1", RefundID: "9"},
		&domain.PaymentRefundFailed{OrderID: testOrderID, PaymentID: "1", Error: "x"},
	} {
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		back, err := domain.DecodeEvent(e.EventType(), raw)
		require.NoError(t, err, e.EventType())
		require.Equal(t, e, back)
	}
}

// as asserts that e has type T and returns it.
func as[T any](t *testing.T, e any) T {
	t.Helper()
	v, ok := e.(T)
	require.True(t, ok, "got %T", e)
	return v
}
