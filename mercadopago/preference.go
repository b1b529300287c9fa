package mercadopago

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/mercadopago/sdk-go/pkg/preference"
)

// DeliveryItemTitle is the title of the line that carries PreferenceInput.DeliveryFee.
const DeliveryItemTitle = "Delivery"

// Item is one line of an order as shown on the checkout page.
type Item struct {
	// Title names the product.
	Title string
	// Quantity is the number of units, at least 1.
	Quantity int
	// UnitPrice is the price of one unit in minor units of the preference's currency.
	UnitPrice int64
}

// BackURLs are where MercadoPago sends the buyer's browser after the checkout.
type BackURLs struct {
	// Success receives the buyer after an approved payment.
	Success string
	// Failure receives the buyer after a rejected payment.
	Failure string
	// Pending receives the buyer when the payment awaits confirmation (cash, transfer).
	Pending string
}

// PreferenceInput describes the checkout to open for an order. Amounts are minor units of
// Currency.
type PreferenceInput struct {
	// OrderID becomes the preference's external_reference, which every payment made through
	// it carries back.
	OrderID string
	// Items are the order's lines; at least one.
	Items []Item
	// Currency is the ISO 4217 code of every amount, such as "ARS" or "CLP".
	Currency string
	// DeliveryFee, when positive, is added as its own line titled DeliveryItemTitle.
	DeliveryFee int64
	// Discount, when positive, is taken off the items (not the delivery fee).
	Discount int64
	// NotificationURL is where MercadoPago posts payment webhooks for this preference.
	NotificationURL string
	// BackURLs are optional.
	BackURLs BackURLs
	// PayerEmail is optional; it pre-fills the checkout.
	PayerEmail string
}

// Preference is a created Checkout Pro preference.
type Preference struct {
	// ID is MercadoPago's preference id.
	ID string
	// CheckoutURL is the page the buyer pays on (MercadoPago's init_point).
	CheckoutURL string
}

// CreatePreference opens a Checkout Pro checkout for an order. The amount charged is the sum
// of the items, plus the delivery fee, minus the discount.
//
// MercadoPago refuses items with a negative price, so a discount is spread over the item lines
// in proportion to their totals, to the minor unit, and a line whose new total does not divide
// evenly by its quantity is split in two lines whose unit prices differ by one minor unit. The
// total is therefore exact.
//
// A retry must use the idempotency key of the first attempt (WithIdempotencyKey); otherwise a
// second preference is created.
func (c *Client) CreatePreference(ctx context.Context, in PreferenceInput) (Preference, error) {
	lines, err := checkoutLines(in)
	if err != nil {
		return Preference{}, fmt.Errorf("create preference: %w", err)
	}

	req := preference.Request{
		ExternalReference: in.OrderID,
		NotificationURL:   in.NotificationURL,
	}
	for _, line := range lines {
		price, err := MinorToMajor(line.UnitPrice, in.Currency)
		if err != nil {
			return Preference{}, fmt.Errorf("create preference: %w", err)
		}
		req.Items = append(req.Items, preference.ItemRequest{
			Title:      line.Title,
			Quantity:   line.Quantity,
			UnitPrice:  price,
			CurrencyID: in.Currency,
		})
	}
	if in.BackURLs != (BackURLs{}) {
		req.BackURLs = &preference.BackURLsRequest{
			Success: in.BackURLs.Success,
			Failure: in.BackURLs.Failure,
			Pending: in.BackURLs.Pending,
		}
	}
	if in.PayerEmail != "" {
		req.Payer = &preference.PayerRequest{Email: in.PayerEmail}
	}

	resp, err := c.preferences.Create(ctx, req)
	if err != nil {
		return Preference{}, classify("create preference", err)
	}
	if resp == nil || resp.ID == "" {
		return Preference{}, classify("create preference", errors.New("empty answer"))
	}
	return Preference{ID: resp.ID, CheckoutURL: resp.InitPoint}, nil
}

// checkoutLines validates in and returns the lines to send, with the discount spread over the
// items and the delivery fee appended.
func checkoutLines(in PreferenceInput) ([]Item, error) {
	if in.OrderID == "" {
		return nil, fmt.Errorf("empty order id: %w", ErrInvalidInput)
	}
	if _, ok := exponents[in.Currency]; !ok {
		return nil, fmt.Errorf("unsupported currency %q: %w", in.Currency, ErrInvalidInput)
	}
	if len(in.Items) == 0 {
		return nil, fmt.Errorf("no items: %w", ErrInvalidInput)
	}
	if in.DeliveryFee < 0 || in.Discount < 0 {
		return nil, fmt.Errorf("negative delivery fee or discount: %w", ErrInvalidInput)
	}

	var subtotal int64
	for i, item := range in.Items {
		if item.Title == "" || item.Quantity < 1 || item.UnitPrice < 1 {
			return nil, fmt.Errorf("item %d needs a title, a quantity and a positive price: %w",
				i, ErrInvalidInput)
		}
		if item.UnitPrice > maxExactMinor/int64(item.Quantity) {
			return nil, fmt.Errorf("item %d total is too large: %w", i, ErrInvalidInput)
		}
		subtotal += item.UnitPrice * int64(item.Quantity)
		if subtotal > maxExactMinor {
			return nil, fmt.Errorf("items total is too large: %w", ErrInvalidInput)
		}
	}
	if in.DeliveryFee > maxExactMinor-subtotal {
		return nil, fmt.Errorf("total is too large: %w", ErrInvalidInput)
	}

	lines, err := spreadDiscount(in.Items, subtotal, in.Discount)
	if err != nil {
		return nil, err
	}
	if in.DeliveryFee > 0 {
		lines = append(lines, Item{Title: DeliveryItemTitle, Quantity: 1, UnitPrice: in.DeliveryFee})
	}
	return lines, nil
}

// spreadDiscount takes discount off items, whose line totals add up to subtotal, in proportion
// to each line's total (largest remainder first for the leftover minor units), and returns
// lines whose totals add up to exactly subtotal-discount with every unit price positive.
func spreadDiscount(items []Item, subtotal, discount int64) ([]Item, error) {
	if discount == 0 {
		return slices.Clone(items), nil
	}
	if discount >= subtotal {
		return nil, fmt.Errorf("discount %d is not below the items total %d: %w",
			discount, subtotal, ErrInvalidInput)
	}

	// Each line's exact share is discount*total/subtotal; the product can exceed 64 bits.
	shares := make([]int64, len(items))
	remainders := make([]uint64, len(items))
	var given int64
	for i, item := range items {
		total := item.UnitPrice * int64(item.Quantity)
		hi, lo := bits.Mul64(uint64(discount), uint64(total))
		q, r := bits.Div64(hi, lo, uint64(subtotal))
		shares[i], remainders[i] = int64(q), r
		given += int64(q)
	}

	// Fewer minor units than there are lines are left over; hand them out one each.
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case remainders[a] > remainders[b]:
			return -1
		case remainders[a] < remainders[b]:
			return 1
		}
		return 0
	})
	for _, i := range order[:discount-given] {
		shares[i]++
	}

	lines := make([]Item, 0, len(items)+1)
	for i, item := range items {
		qty := int64(item.Quantity)
		total := item.UnitPrice*qty - shares[i]
		if total < qty {
			return nil, fmt.Errorf("discount %d leaves item %d without a price: %w",
				discount, i, ErrInvalidInput)
		}

		unit, extra := total/qty, total%qty
		if extra == 0 {
			lines = append(lines, Item{Title: item.Title, Quantity: item.Quantity, UnitPrice: unit})
			continue
		}
		lines = append(lines,
			Item{Title: item.Title, Quantity: int(qty - extra), UnitPrice: unit},
			Item{Title: item.Title, Quantity: int(extra), UnitPrice: unit + 1},
		)
	}
	return lines, nil
}
