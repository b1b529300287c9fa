package mercadopago

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mercadopago/sdk-go/pkg/payment"
)

// Status is a payment's status as MercadoPago reports it. Values other than the constants
// below are passed through unchanged.
type Status string

// Payment statuses. Once approved, a payment only moves on to refunded, charged_back or
// in_mediation.
const (
	StatusPending     Status = "pending"
	StatusApproved    Status = "approved"
	StatusAuthorized  Status = "authorized"
	StatusInProcess   Status = "in_process"
	StatusInMediation Status = "in_mediation"
	StatusRejected    Status = "rejected"
	StatusCancelled   Status = "cancelled" // MercadoPago spells it so.
	StatusRefunded    Status = "refunded"
	StatusChargedBack Status = "charged_back"
)

// searchPageSize is how many payments SearchPaymentsByExternalReference asks for at a time, and
// searchMaxPages how many pages it reads before giving up.
const (
	searchPageSize = 50
	searchMaxPages = 20
)

// Payment is a MercadoPago payment in the engine's terms. Amounts are minor units of Currency.
type Payment struct {
	// ID is MercadoPago's payment id, in decimal.
	ID string
	// Status is the payment's status.
	Status Status
	// StatusDetail refines Status ("accredited", "cc_rejected_insufficient_amount", ...).
	StatusDetail string
	// Amount is the amount charged.
	Amount int64
	// RefundedAmount is the part of Amount refunded so far.
	RefundedAmount int64
	// Currency is the ISO 4217 code of the amounts.
	Currency string
	// ExternalReference is the preference's external reference: the order id.
	ExternalReference string
	// PaymentMethodID is the means of payment ("visa", "account_money", ...).
	PaymentMethodID string
	// PaymentTypeID is the kind of means ("credit_card", "ticket", ...).
	PaymentTypeID string
	// DateCreated is when the payment was created.
	DateCreated time.Time
	// DateApproved is when it was approved, or nil if it never was.
	DateApproved *time.Time
	// DateLastUpdated is when it last changed.
	DateLastUpdated time.Time
	// LiveMode is false for payments made with test credentials.
	LiveMode bool
}

// GetPayment reads a payment. id is the decimal id that webhooks carry as a string; anything
// else is refused with ErrInvalidPaymentID before MercadoPago is called. An unknown id returns
// an error matching ErrNotFound.
func (c *Client) GetPayment(ctx context.Context, id string) (Payment, error) {
	n, err := parsePaymentID(id)
	if err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}

	resp, err := c.payments.Get(ctx, n)
	if err != nil {
		return Payment{}, classify("get payment", err)
	}
	if resp == nil {
		return Payment{}, classify("get payment", errors.New("empty answer"))
	}
	p, err := paymentFromResponse(resp)
	if err != nil {
		return Payment{}, fmt.Errorf("get payment %s: %w", id, err)
	}
	return p, nil
}

// SearchPaymentsByExternalReference returns every payment whose external reference is ref (an
// order id), oldest first. It is how a missed webhook is reconciled.
func (c *Client) SearchPaymentsByExternalReference(ctx context.Context, ref string) ([]Payment,
	error) {
	if ref == "" {
		return nil, fmt.Errorf("search payments: empty external reference: %w", ErrInvalidInput)
	}

	var out []Payment
	for page := range searchMaxPages {
		req := payment.SearchRequest{
			Limit:  searchPageSize,
			Offset: page * searchPageSize,
			Filters: map[string]string{
				"external_reference": ref,
				"sort":               "date_created",
				"criteria":           "asc",
			},
		}
		resp, err := c.payments.Search(ctx, req)
		if err != nil {
			return nil, classify("search payments", err)
		}
		if resp == nil {
			return nil, classify("search payments", errors.New("empty answer"))
		}

		for i := range resp.Results {
			p, err := paymentFromResponse(&resp.Results[i])
			if err != nil {
				return nil, fmt.Errorf("search payments: payment %d: %w", resp.Results[i].ID, err)
			}
			out = append(out, p)
		}
		if len(resp.Results) < searchPageSize || len(out) >= resp.Paging.Total {
			return out, nil
		}
	}
	return nil, fmt.Errorf("search payments: more than %d payments for one reference: %w",
		searchPageSize*searchMaxPages, ErrInvalidInput)
}

// parsePaymentID turns a payment id received as text into the int the SDK wants.
func parsePaymentID(id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: %w", id, ErrInvalidPaymentID)
	}
	return n, nil
}

// paymentFromResponse converts the SDK's payment into a Payment.
func paymentFromResponse(r *payment.Response) (Payment, error) {
	amount, err := MajorToMinor(r.TransactionAmount, r.CurrencyID)
	if err != nil {
		return Payment{}, err
	}
	refunded, err := MajorToMinor(r.TransactionAmountRefunded, r.CurrencyID)
	if err != nil {
		return Payment{}, err
	}

	p := Payment{
		ID:                strconv.Itoa(r.ID),
		Status:            Status(r.Status),
		StatusDetail:      r.StatusDetail,
		Amount:            amount,
		RefundedAmount:    refunded,
		Currency:          r.CurrencyID,
		ExternalReference: r.ExternalReference,
		PaymentMethodID:   r.PaymentMethodID,
		PaymentTypeID:     r.PaymentTypeID,
		DateCreated:       r.DateCreated,
		DateLastUpdated:   r.DateLastUpdated,
		LiveMode:          r.LiveMode,
	}
	// The SDK decodes a null date_approved as the zero time.
	if !r.DateApproved.IsZero() {
		approved := r.DateApproved
		p.DateApproved = &approved
	}
	return p, nil
}
