package mercadopago

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mercadopago/sdk-go/pkg/refund"
)

// Refund is a refund of (part of) a payment. Amount is in minor units of Currency.
type Refund struct {
	// ID is MercadoPago's refund id, in decimal.
	ID string
	// PaymentID is the refunded payment's id.
	PaymentID string
	// Amount is the amount given back.
	Amount int64
	// Currency is the payment's currency.
	Currency string
	// Status is the refund's status, "approved" once the money is on its way back.
	Status string
	// DateCreated is when the refund was made.
	DateCreated time.Time
}

// Refund gives back amountMinor (minor units of the payment's currency) of a payment, or all
// that is left of it when amountMinor is nil. It reads the payment first to learn its currency.
//
// A retry must use the idempotency key of the first attempt (WithIdempotencyKey); otherwise the
// money may be refunded twice.
func (c *Client) Refund(ctx context.Context, paymentID string, amountMinor *int64) (Refund,
	error) {
	id, err := parsePaymentID(paymentID)
	if err != nil {
		return Refund{}, fmt.Errorf("refund payment: %w", err)
	}
	if amountMinor != nil && *amountMinor <= 0 {
		// The SDK leaves a zero amount out of the request, which would refund everything.
		return Refund{}, fmt.Errorf("refund payment %s: amount %d is not positive: %w",
			paymentID, *amountMinor, ErrInvalidInput)
	}

	p, err := c.payments.Get(ctx, id)
	if err != nil {
		return Refund{}, classify("get payment to refund", err)
	}
	if p == nil {
		return Refund{}, classify("get payment to refund", errors.New("empty answer"))
	}
	currency := p.CurrencyID

	var resp *refund.Response
	if amountMinor == nil {
		resp, err = c.refunds.Create(ctx, id)
	} else {
		amount, convErr := MinorToMajor(*amountMinor, currency)
		if convErr != nil {
			return Refund{}, fmt.Errorf("refund payment %s: %w", paymentID, convErr)
		}
		resp, err = c.refunds.CreatePartialRefund(ctx, id, amount)
	}
	if err != nil {
		return Refund{}, classify("refund payment", err)
	}
	if resp == nil {
		return Refund{}, classify("refund payment", errors.New("empty answer"))
	}

	amount, err := MajorToMinor(resp.Amount, currency)
	if err != nil {
		return Refund{}, fmt.Errorf("refund payment %s: %w", paymentID, err)
	}
	return Refund{
		ID:          strconv.Itoa(resp.ID),
		PaymentID:   strconv.Itoa(resp.PaymentID),
		Amount:      amount,
		Currency:    currency,
		Status:      resp.Status,
		DateCreated: resp.DateCreated,
	}, nil
}
