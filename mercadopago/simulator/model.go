package simulator

import (
	"strconv"
	"time"

	"comanda/mercadopago"
)

// preferenceState is a stored preference; amounts are minor units of Currency.
type preferenceState struct {
	ID                string
	InitPoint         string
	ExternalReference string
	NotificationURL   string
	Currency          string
	Items             []itemState
	Total             int64
	BackURLs          backURLsWire
	PayerEmail        string
	DateCreated       time.Time
}

type itemState struct {
	ID        string
	Title     string
	Quantity  int
	UnitPrice int64
}

// paymentState is a stored payment; amounts are minor units of Currency.
type paymentState struct {
	ID                int64
	PreferenceID      string
	Status            string
	StatusDetail      string
	Amount            int64
	Refunded          int64
	Currency          string
	ExternalReference string
	NotificationURL   string
	PayerEmail        string
	DateCreated       time.Time
	DateApproved      *time.Time
	DateLastUpdated   time.Time
	Refunds           []refundState
	// LastAction is the action of the last webhook about the payment, sent again on request.
	LastAction string
}

type refundState struct {
	ID          int64
	Amount      int64
	DateCreated time.Time
}

// defaultStatusDetail gives the status_detail MercadoPago typically reports with each status.
var defaultStatusDetail = map[string]string{
	"pending":      "pending_waiting_payment",
	"approved":     "accredited",
	"authorized":   "pending_capture",
	"in_process":   "pending_contingency",
	"in_mediation": "in_process",
	"rejected":     "cc_rejected_other_reason",
	"cancelled":    "by_collector", // MercadoPago spells it so.
	"refunded":     "refunded",
	"charged_back": "settled",
}

// siteIDs maps a currency to the MercadoPago site that uses it.
var siteIDs = map[string]string{
	"ARS": "MLA", "BRL": "MLB", "CLP": "MLC", "COP": "MCO", "MXN": "MLM", "PEN": "MPE", "UYU": "MLU",
}

// newPaymentLocked stores a new payment for the given preference (nil when made through the
// control API without one).
func (s *Simulator) newPaymentLocked(pref *preferenceState, status, detail string, amount int64,
	currency, ref string) *paymentState {
	s.lastPaymentID++
	now := s.now()
	if detail == "" {
		detail = defaultStatusDetail[status]
	}

	p := &paymentState{
		ID:                s.lastPaymentID,
		Status:            status,
		StatusDetail:      detail,
		Amount:            amount,
		Currency:          currency,
		ExternalReference: ref,
		DateCreated:       now,
		DateLastUpdated:   now,
	}
	if pref != nil {
		p.PreferenceID = pref.ID
		p.NotificationURL = pref.NotificationURL
		p.PayerEmail = pref.PayerEmail
	}
	if status == "approved" {
		p.DateApproved = &now
	}
	if status == "refunded" {
		p.Refunded = amount
	}

	s.payments[p.ID] = p
	s.paymentOrder = append(s.paymentOrder, p.ID)
	return p
}

// mpTimeLayout is how MercadoPago writes timestamps.
const mpTimeLayout = "2006-01-02T15:04:05.000-07:00"

// major converts a stored amount for the wire. Currencies are checked when amounts enter the
// simulator, so a failure here is a bug.
func major(minor int64, currency string) float64 {
	f, err := mercadopago.MinorToMajor(minor, currency)
	if err != nil {
		panic("BUG: stored amount cannot be converted: " + err.Error())
	}
	return f
}

// formatMinor writes an amount in minor units as a decimal string, without going through
// float64: 1999 with two decimals is "19.99".
func formatMinor(minor int64, currency string) string {
	exp, _ := mercadopago.CurrencyExponent(currency)
	digits := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return digits
	}
	for len(digits) <= exp {
		digits = "0" + digits
	}
	return digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
}
