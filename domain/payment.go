package domain

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

// OrderPaid records that an approved payment covered the order's total.
type OrderPaid struct {
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
	Amount    Money  `json:"amount"`
}

// EventType implements Event.
func (OrderPaid) EventType() string { return "OrderPaid" }

func init() {
	register(func() Event { return &OrderPaid{} })
}

// applyPayment folds the payment events that change an order's state.
func (o *Order) applyPayment(e Event) {
	if _, ok := e.(*OrderPaid); ok {
		o.Paid = true
	}
}
