package payments

import (
	"context"
	"errors"
	"strconv"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/mercadopago"
)

// Checkout is a MercadoPago checkout of an order.
type Checkout struct {
	OrderID      string
	PreferenceID string
	CheckoutURL  string
	Attempt      int
	Amount       domain.Money
	// Created is false when the checkout still open was handed back.
	Created bool
	// Version and Position are where the order's stream stands after it.
	Version  int64
	Position int64
}

// StartCheckout opens a MercadoPago checkout of the order for its customer:
// a preference with the order's lines, delivery fee and discount, the order
// id as external reference and the engine's webhook as notification URL.
// A checkout still open for the same total is handed back; otherwise the next
// attempt is opened and recorded as PaymentCheckoutStarted. The preference is
// created with an idempotency key derived from the order, the attempt and the
// amount, so a retry never creates a second one.
func (s *Service) StartCheckout(ctx context.Context, orderID string, actor domain.Actor,
	org Origin) (Checkout, error) {
	for attempt := 0; ; attempt++ {
		o, version, err := s.load(ctx, orderID)
		if err != nil {
			return Checkout{}, err
		}
		if err := s.mayRead(ctx, o, actor); err != nil {
			return Checkout{}, err
		}
		d, err := o.StartCheckout(actor)
		if err != nil {
			return Checkout{}, err
		}
		if d.Reuse != nil {
			return Checkout{OrderID: o.ID, PreferenceID: d.Reuse.PreferenceID,
				CheckoutURL: d.Reuse.CheckoutURL, Attempt: d.Attempt, Amount: d.Amount,
				Version: version}, nil
		}

		pref, err := s.deps.MercadoPago.CreatePreference(
			withIdempotencyKey(ctx, d.IdempotencyKey(o.ID)), s.preferenceInput(o))
		if err != nil {
			return Checkout{}, upstreamError("open a checkout for this order", err)
		}
		ev := o.CheckoutStarted(d, pref.ID, pref.CheckoutURL)
		key := "checkout/" + strconv.Itoa(d.Attempt) + "/" + d.IdempotencyKey(o.ID)
		res, err := s.appendEvents(ctx, o.ID, version, key, org, ev)
		if errors.Is(err, eventstore.ErrConcurrency) && attempt < maxDecideRetries {
			continue
		}
		if err != nil {
			return Checkout{}, err
		}
		return Checkout{OrderID: o.ID, PreferenceID: pref.ID, CheckoutURL: pref.CheckoutURL,
			Attempt: d.Attempt, Amount: d.Amount, Created: true, Version: res.Version,
			Position: res.Position}, nil
	}
}

// mayRead hides orders the actor may not see.
func (s *Service) mayRead(ctx context.Context, o *domain.PayableOrder, actor domain.Actor) error {
	if actor.Role == domain.RoleCustomer {
		if actor.ID != o.CustomerID {
			return notFound()
		}
		return nil
	}
	owner, err := s.owner(ctx, o)
	if err != nil {
		return err
	}
	if !o.VisibleTo(actor, owner) {
		return notFound()
	}
	return nil
}

// preferenceInput describes the order's checkout in the adapter's terms;
// amounts stay in minor units, which the adapter converts.
func (s *Service) preferenceInput(o *domain.PayableOrder) mercadopago.PreferenceInput {
	in := mercadopago.PreferenceInput{
		OrderID:         o.ID,
		Currency:        string(o.Totals.Total.Currency),
		DeliveryFee:     o.Totals.DeliveryFee.Amount,
		Discount:        o.Totals.Discount.Amount,
		NotificationURL: s.cfg.NotificationURL,
		BackURLs:        s.cfg.BackURLs,
	}
	for _, l := range o.Lines {
		in.Items = append(in.Items, mercadopago.Item{Title: l.Name, Quantity: int(l.Quantity),
			UnitPrice: l.UnitPrice.Amount})
	}
	return in
}
