package domain

import (
	"fmt"
	"strconv"
)

// Payment statuses as MercadoPago reports them.
const (
	PaymentPending     = "pending"
	PaymentApproved    = "approved"
	PaymentAuthorized  = "authorized"
	PaymentInProcess   = "in_process"
	PaymentInMediation = "in_mediation"
	PaymentRejected    = "rejected"
	PaymentCancelled   = "cancelled"
	PaymentRefunded    = "refunded"
	PaymentChargedBack = "charged_back"
)

// Reasons a payment needs a person: it was approved but does not pay its order.
const (
	ReviewAmountMismatch = "amount_mismatch"
	ReviewAlreadyPaid    = "already_paid"
	ReviewOrderCancelled = "order_cancelled"
)

// Reasons a refund is asked for.
const (
	RefundRequested      = "requested"
	RefundOrderCancelled = "order_cancelled"
)

// PaymentCheckoutStarted records that a MercadoPago checkout (a preference)
// was opened for the order's total. Attempt counts the checkouts of the order
// from 1.
type PaymentCheckoutStarted struct {
	OrderID      string `json:"order_id"`
	PreferenceID string `json:"preference_id"`
	CheckoutURL  string `json:"checkout_url"`
	Attempt      int    `json:"attempt"`
	Amount       Money  `json:"amount"`
}

// PaymentStatusRecorded records a payment of the order as MercadoPago reported
// it: a new status, status detail or refunded amount.
type PaymentStatusRecorded struct {
	OrderID        string `json:"order_id"`
	PaymentID      string `json:"payment_id"`
	Status         string `json:"status"`
	StatusDetail   string `json:"status_detail,omitempty"`
	Amount         Money  `json:"amount"`
	RefundedAmount Money  `json:"refunded_amount"`
	// OrderPayment is true when this status is the order's payment status: the
	// payment paid the order, or the order is unpaid and the payment does not
	// need review.
	OrderPayment bool `json:"order_payment"`
}

// OrderPaid records that an approved payment covered the order's total.
type OrderPaid struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Amount    Money  `json:"amount"`
}

// PaymentAmountMismatch records an approved payment whose amount or currency
// is not the order's total; the order stays unpaid and an admin reviews it.
type PaymentAmountMismatch struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Expected  Money  `json:"expected"`
	Received  Money  `json:"received"`
}

// PaymentUnexpected records an approved payment for an order that was already
// paid by another payment or was cancelled; an admin reviews it.
type PaymentUnexpected struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Reason    string `json:"reason"`
	Amount    Money  `json:"amount"`
}

// OrderRefunded records money given back on the payment that paid the order.
// Amount is this refund; RefundedTotal is everything refunded so far.
type OrderRefunded struct {
	OrderID       string `json:"order_id"`
	PaymentID     string `json:"payment_id"`
	Amount        Money  `json:"amount"`
	RefundedTotal Money  `json:"refunded_total"`
}

// OrderChargedBack records that the customer's card issuer took back the
// payment that paid the order.
type OrderChargedBack struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Amount    Money  `json:"amount"`
}

// PaymentRefundRequested records a refund MercadoPago accepted: RefundID and
// the Amount it gives back, who asked for it and why.
type PaymentRefundRequested struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	RefundID  string `json:"refund_id"`
	Amount    Money  `json:"amount"`
	Reason    string `json:"reason"`
	ByRole    Role   `json:"by_role,omitempty"`
}

// PaymentRefundFailed records a refund MercadoPago did not make. Error says
// why in words safe to show to admins.
type PaymentRefundFailed struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Amount    Money  `json:"amount"`
	Reason    string `json:"reason"`
	Error     string `json:"error"`
	Retryable bool   `json:"retryable"`
}

// EventType implements Event.
func (PaymentCheckoutStarted) EventType() string { return "PaymentCheckoutStarted" }

// EventType implements Event.
func (PaymentStatusRecorded) EventType() string { return "PaymentStatusRecorded" }

// EventType implements Event.
func (OrderPaid) EventType() string { return "OrderPaid" }

// EventType implements Event.
func (PaymentAmountMismatch) EventType() string { return "PaymentAmountMismatch" }

// EventType implements Event.
func (PaymentUnexpected) EventType() string { return "PaymentUnexpected" }

// EventType implements Event.
func (OrderRefunded) EventType() string { return "OrderRefunded" }

// EventType implements Event.
func (OrderChargedBack) EventType() string { return "OrderChargedBack" }

// EventType implements Event.
func (PaymentRefundRequested) EventType() string { return "PaymentRefundRequested" }

// EventType implements Event.
func (PaymentRefundFailed) EventType() string { return "PaymentRefundFailed" }

func init() {
	register(
		func() Event { return &PaymentCheckoutStarted{} },
		func() Event { return &PaymentStatusRecorded{} },
		func() Event { return &OrderPaid{} },
		func() Event { return &PaymentAmountMismatch{} },
		func() Event { return &PaymentUnexpected{} },
		func() Event { return &OrderRefunded{} },
		func() Event { return &OrderChargedBack{} },
		func() Event { return &PaymentRefundRequested{} },
		func() Event { return &PaymentRefundFailed{} },
	)
}

// applyPayment folds the payment events that change an order's state.
func (o *Order) applyPayment(e Event) {
	if _, ok := e.(*OrderPaid); ok {
		o.Paid = true
	}
}

// ApprovedFamily reports whether a payment in status s was approved at some
// point: approved, or one of the statuses an approved payment moves on to.
func ApprovedFamily(s string) bool {
	switch s {
	case PaymentApproved, PaymentInMediation, PaymentRefunded, PaymentChargedBack:
		return true
	}
	return false
}

// paymentMayMove reports whether a payment recorded in status from may be
// recorded in status to. Anything else is a stale report that arrived late: a
// failed payment stays failed, an approved one only moves on to mediation,
// refund or chargeback, and refunds and chargebacks are final.
func paymentMayMove(from, to string) bool {
	switch from {
	case PaymentApproved, PaymentInMediation:
		return ApprovedFamily(to)
	case PaymentRejected, PaymentCancelled, PaymentRefunded, PaymentChargedBack:
		return to == from
	}
	return true
}

// PaymentRecord is one payment of an order as last recorded.
type PaymentRecord struct {
	ID           string
	Status       string
	StatusDetail string
	Amount       Money
	Refunded     Money
	// Review names why the payment needs a person, or is empty.
	Review string
}

// PaymentLedger is the payment side of an order, folded from the same order
// stream as Order.
type PaymentLedger struct {
	// Checkouts counts the checkouts started; LastCheckout is the newest.
	Checkouts    int
	LastCheckout *PaymentCheckoutStarted
	// checkoutOpen is false once a payment failed after the last checkout.
	checkoutOpen bool
	// Payments are the order's payments by MercadoPago id.
	Payments map[string]*PaymentRecord
	// PaidBy is the payment that paid the order, and PaidAmount its amount.
	PaidBy     string
	PaidAmount Money
	// Refunded is what was given back on the paying payment so far.
	Refunded    Money
	ChargedBack bool
	// RefundsRequested counts refunds MercadoPago accepted; CancelRefund is
	// true once the refund that follows a cancellation was accepted.
	RefundsRequested int
	CancelRefund     bool
}

// PayableOrder is an order with its payment ledger.
type PayableOrder struct {
	Order
	Ledger PaymentLedger
}

// Apply folds one event of the order's stream into the order and its ledger.
func (p *PayableOrder) Apply(e Event) {
	p.Order.Apply(e)
	p.Ledger.apply(e)
}

func (l *PaymentLedger) apply(e Event) {
	if l.Payments == nil {
		l.Payments = map[string]*PaymentRecord{}
	}
	switch e := e.(type) {
	case *PaymentCheckoutStarted:
		cp := *e
		l.Checkouts, l.LastCheckout, l.checkoutOpen = max(l.Checkouts, e.Attempt), &cp, true
	case *PaymentStatusRecorded:
		r := l.Payments[e.PaymentID]
		if r == nil {
			r = &PaymentRecord{ID: e.PaymentID}
			l.Payments[e.PaymentID] = r
		}
		r.Status, r.StatusDetail, r.Amount, r.Refunded = e.Status, e.StatusDetail, e.Amount,
			e.RefundedAmount
		if e.Status == PaymentRejected || e.Status == PaymentCancelled {
			l.checkoutOpen = false
		}
	case *OrderPaid:
		l.PaidBy, l.PaidAmount = e.PaymentID, e.Amount
		l.Refunded = Zero(e.Amount.Currency)
	case *PaymentAmountMismatch:
		l.review(e.PaymentID, ReviewAmountMismatch)
	case *PaymentUnexpected:
		l.review(e.PaymentID, e.Reason)
	case *OrderRefunded:
		l.Refunded = e.RefundedTotal
	case *OrderChargedBack:
		l.ChargedBack = true
	case *PaymentRefundRequested:
		l.RefundsRequested++
		if e.Reason == RefundOrderCancelled {
			l.CancelRefund = true
		}
	}
}

func (l *PaymentLedger) review(paymentID, reason string) {
	if r := l.Payments[paymentID]; r != nil {
		r.Review = reason
	}
}

// Remaining is what can still be refunded of the payment that paid the order.
func (l *PaymentLedger) Remaining() Money {
	if l.PaidBy == "" {
		return Money{}
	}
	return Money{Amount: l.PaidAmount.Amount - l.Refunded.Amount, Currency: l.PaidAmount.Currency}
}

// CheckoutDecision is what StartCheckout decided: open a new checkout with
// Attempt, or hand back the one still open (Reuse).
type CheckoutDecision struct {
	Attempt int
	Amount  Money
	Reuse   *PaymentCheckoutStarted
}

// IdempotencyKey names the preference of this decision for MercadoPago. It
// is derived from the order, the attempt and the amount, so a retried request
// gets the preference the first one created, and a changed total a new one.
func (d CheckoutDecision) IdempotencyKey(orderID string) string {
	return fmt.Sprintf("comanda-checkout-%s-%d-%d%s", orderID, d.Attempt, d.Amount.Amount,
		d.Amount.Currency)
}

// StartCheckout validates a MercadoPago checkout of the order by actor. A
// checkout still open for the same total is handed back instead of a new one;
// a payment that failed since, or a changed total, opens the next attempt.
func (p *PayableOrder) StartCheckout(actor Actor) (CheckoutDecision, error) {
	if actor.Role != RoleCustomer || actor.ID != p.CustomerID {
		return CheckoutDecision{}, Errorf(CodeForbidden, "only the order's customer pays for it")
	}
	if err := p.payable(); err != nil {
		return CheckoutDecision{}, err
	}
	last := p.Ledger.LastCheckout
	if last != nil && p.Ledger.checkoutOpen && last.Amount == p.Totals.Total {
		return CheckoutDecision{Attempt: last.Attempt, Amount: last.Amount, Reuse: last}, nil
	}
	return CheckoutDecision{Attempt: p.Ledger.Checkouts + 1, Amount: p.Totals.Total}, nil
}

// payable refuses orders that cannot be paid through MercadoPago now.
func (p *PayableOrder) payable() error {
	switch {
	case p.PaymentMethod != PayMercadoPago:
		return &Error{Code: CodeConflict,
			Message: "the order is paid in " + string(p.PaymentMethod) + ", not through MercadoPago",
			Details: map[string]any{"payment_method": p.PaymentMethod}}
	case p.Paid:
		return &Error{Code: CodeConflict, Message: "the order is already paid",
			Details: map[string]any{"paid": true, "payment_id": p.Ledger.PaidBy}}
	case p.Status == StatusCancelled:
		return p.transitionError(p.Status, "the order is cancelled and cannot be paid")
	case p.Totals.Total.Amount <= 0:
		return Errorf(CodeConflict, "the order's total is zero: there is nothing to pay")
	}
	return nil
}

// CheckoutStarted returns the event of a checkout opened on decision d.
func (p *PayableOrder) CheckoutStarted(d CheckoutDecision, preferenceID,
	url string) *PaymentCheckoutStarted {
	return &PaymentCheckoutStarted{OrderID: p.ID, PreferenceID: preferenceID, CheckoutURL: url,
		Attempt: d.Attempt, Amount: d.Amount}
}

// PaymentReport is a payment as MercadoPago reports it now.
type PaymentReport struct {
	ID           string
	Status       string
	StatusDetail string
	Amount       Money
	// Refunded is the part of Amount refunded so far, in Amount's currency.
	Refunded int64
}

// RecordPayment decides the events that record payment r, as MercadoPago
// reports it now, on the order. It is idempotent: a report that changes
// nothing, or that is older than what was recorded (a pending after an
// approval, a smaller refunded amount), returns no events.
//
// An approved payment for exactly the order's total and currency pays the
// order; any other amount or currency, or an order already paid or
// cancelled, puts the payment up for review. Refunds and chargebacks of the
// paying payment are recorded on the order too.
func (p *PayableOrder) RecordPayment(r PaymentReport) []Event {
	if r.Status == PaymentRefunded && r.Refunded == 0 {
		r.Refunded = r.Amount.Amount
	}
	refunded := Money{Amount: r.Refunded, Currency: r.Amount.Currency}
	prev, seen := p.Ledger.Payments[r.ID]
	if seen {
		if !paymentMayMove(prev.Status, r.Status) || r.Refunded < prev.Refunded.Amount {
			return nil
		}
		if prev.Status == r.Status && prev.StatusDetail == r.StatusDetail &&
			prev.Amount == r.Amount && prev.Refunded == refunded {
			return nil
		}
	}

	status := &PaymentStatusRecorded{OrderID: p.ID, PaymentID: r.ID, Status: r.Status,
		StatusDetail: r.StatusDetail, Amount: r.Amount, RefundedAmount: refunded}
	out := []Event{status}
	paying, review := p.Ledger.PaidBy == r.ID, seen && prev.Review != ""
	newlyApproved := !seen || !ApprovedFamily(prev.Status)
	if ApprovedFamily(r.Status) && newlyApproved {
		switch ev := p.approval(r); ev.(type) {
		case *OrderPaid:
			paying = true
			out = append(out, ev)
		default:
			review = true
			out = append(out, ev)
		}
	}
	status.OrderPayment = paying || (p.Ledger.PaidBy == "" && !review)
	if !paying {
		return out
	}

	before := int64(0)
	if seen {
		before = prev.Refunded.Amount
	}
	if r.Refunded > before {
		out = append(out, &OrderRefunded{OrderID: p.ID, PaymentID: r.ID,
			Amount: Money{Amount: r.Refunded - before, Currency: r.Amount.Currency}, RefundedTotal: refunded})
	}
	if r.Status == PaymentChargedBack && (!seen || prev.Status != PaymentChargedBack) {
		out = append(out, &OrderChargedBack{OrderID: p.ID, PaymentID: r.ID, Amount: r.Amount})
	}
	return out
}

// approval decides what a payment seen approved for the first time means for
// the order.
func (p *PayableOrder) approval(r PaymentReport) Event {
	switch {
	case r.Amount != p.Totals.Total:
		return &PaymentAmountMismatch{OrderID: p.ID, PaymentID: r.ID, Expected: p.Totals.Total,
			Received: r.Amount}
	case p.Ledger.PaidBy != "":
		return &PaymentUnexpected{OrderID: p.ID, PaymentID: r.ID, Reason: ReviewAlreadyPaid,
			Amount: r.Amount}
	case p.Status == StatusCancelled:
		return &PaymentUnexpected{OrderID: p.ID, PaymentID: r.ID, Reason: ReviewOrderCancelled,
			Amount: r.Amount}
	}
	return &OrderPaid{OrderID: p.ID, PaymentID: r.ID, Amount: r.Amount}
}

// RefundPlan is a refund decided on: Amount of PaymentID, or all that is left
// when Full. Sequence numbers the order's accepted refunds from 1.
type RefundPlan struct {
	PaymentID string
	Amount    Money
	Full      bool
	Sequence  int
	Reason    string
}

// IdempotencyKey names the refund for MercadoPago: a retry of the same
// request refunds once. The refund that follows a cancellation has one key
// for the life of the order.
func (r RefundPlan) IdempotencyKey(orderID string) string {
	if r.Reason == RefundOrderCancelled {
		return "comanda-cancel-refund-" + orderID
	}
	return fmt.Sprintf("comanda-refund-%s-%d-%d", orderID, r.Sequence, r.Amount.Amount)
}

// Requested returns the event of the refund MercadoPago accepted for plan r.
func (r RefundPlan) Requested(orderID, refundID string, by Role) *PaymentRefundRequested {
	return &PaymentRefundRequested{OrderID: orderID, PaymentID: r.PaymentID, RefundID: refundID,
		Amount: r.Amount, Reason: r.Reason, ByRole: by}
}

// PlanRefund validates a refund of amount (nil: all that is left) of the
// payment that paid the order, asked by actor for the business owned by
// owner.
func (p *PayableOrder) PlanRefund(actor Actor, owner string, amount *Money) (RefundPlan, error) {
	if !actor.ActsFor(p.BusinessID, owner) {
		return RefundPlan{}, Errorf(CodeForbidden, "only the business or an admin may refund an order")
	}
	left := p.Ledger.Remaining()
	switch {
	case p.Ledger.PaidBy == "":
		return RefundPlan{}, &Error{Code: CodeConflict,
			Message: "the order is not paid through MercadoPago: there is nothing to refund",
			Details: map[string]any{"paid": p.Paid, "payment_method": p.PaymentMethod}}
	case p.Ledger.ChargedBack:
		return RefundPlan{}, Errorf(CodeConflict, "the payment was charged back: there is nothing to refund")
	case left.Amount <= 0:
		return RefundPlan{}, &Error{Code: CodeConflict, Message: "the order is already refunded in full",
			Details: map[string]any{"refunded": p.Ledger.Refunded}}
	}
	plan := RefundPlan{PaymentID: p.Ledger.PaidBy, Amount: left, Full: true,
		Sequence: p.Ledger.RefundsRequested + 1, Reason: RefundRequested}
	if amount == nil {
		return plan, nil
	}
	var v Validator
	v.Check(amount.Currency == left.Currency, "amount.currency",
		"must be the payment's currency ("+string(left.Currency)+")")
	v.Check(amount.Amount >= 1 && amount.Amount <= left.Amount, "amount.amount",
		"must be from 1 to "+strconv.FormatInt(left.Amount, 10)+" minor units, what is left to refund")
	if err := v.Err(); err != nil {
		return RefundPlan{}, err
	}
	plan.Amount, plan.Full = *amount, amount.Amount == left.Amount
	return plan, nil
}

// CancelRefund returns the full refund a cancelled order paid through
// MercadoPago is owed, and whether it is owed: the order is cancelled, paid,
// not charged back, not refunded in full, and no such refund was accepted yet.
func (p *PayableOrder) CancelRefund() (RefundPlan, bool) {
	left := p.Ledger.Remaining()
	if p.Status != StatusCancelled || p.Ledger.PaidBy == "" || p.Ledger.ChargedBack ||
		p.Ledger.CancelRefund || left.Amount <= 0 {
		return RefundPlan{}, false
	}
	return RefundPlan{PaymentID: p.Ledger.PaidBy, Amount: left, Full: true,
		Sequence: p.Ledger.RefundsRequested + 1, Reason: RefundOrderCancelled}, true
}
