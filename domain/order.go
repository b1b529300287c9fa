package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// StreamOrder is the stream type of orders.
const StreamOrder = "order"

// Status is where an order is in its life.
type Status string

// The order statuses.
const (
	StatusPlaced         Status = "placed"
	StatusConfirmed      Status = "confirmed"
	StatusPreparing      Status = "preparing"
	StatusReady          Status = "ready"
	StatusOutForDelivery Status = "out_for_delivery"
	StatusDelivered      Status = "delivered"
	StatusPickedUp       Status = "picked_up"
	StatusCancelled      Status = "cancelled"
)

// Fulfillment is how the order reaches the customer.
type Fulfillment string

// The fulfillment kinds.
const (
	Delivery Fulfillment = "delivery"
	Pickup   Fulfillment = "pickup"
)

// PaymentMethod is how the customer pays.
type PaymentMethod string

// The payment methods.
const (
	PayMercadoPago PaymentMethod = "mercadopago"
	PayCash        PaymentMethod = "cash"
)

// MaxLineQuantity bounds the quantity of one line.
const MaxLineQuantity = 999

// MaxLines bounds the lines of one order.
const MaxLines = 100

// Address is where a delivery goes.
type Address struct {
	Street string `json:"street"`
	City   string `json:"city"`
	Notes  string `json:"notes,omitempty"`
}

// Line is one product on an order, with its name and unit price as they were
// when the order was placed or last changed.
type Line struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	UnitPrice Money  `json:"unit_price"`
	Quantity  int64  `json:"quantity"`
	Note      string `json:"note,omitempty"`
	Total     Money  `json:"total"`
}

// Discount is what a business takes off an order's subtotal: a fixed amount
// in minor units, or a percentage in basis points (1250 is 12.5%).
type Discount struct {
	Kind  string `json:"kind"`
	Value int64  `json:"value"`
}

// Totals are an order's amounts. Total = Subtotal + DeliveryFee - Discount,
// never below zero.
type Totals struct {
	Subtotal    Money `json:"subtotal"`
	DeliveryFee Money `json:"delivery_fee"`
	Discount    Money `json:"discount"`
	Total       Money `json:"total"`
}

// ComputeTotals works out the totals of lines in currency cur. A percentage
// discount is taken from the subtotal and rounded half away from zero to the
// currency's minor unit; no discount exceeds the subtotal.
func ComputeTotals(cur Currency, lines []Line, fee Money, d *Discount) Totals {
	t := Totals{Subtotal: Zero(cur), DeliveryFee: fee, Discount: Zero(cur)}
	for _, l := range lines {
		t.Subtotal = t.Subtotal.Add(l.Total)
	}
	if d != nil {
		switch d.Kind {
		case "fixed":
			t.Discount.Amount = d.Value
		case "percent":
			t.Discount.Amount = PercentOf(t.Subtotal.Amount, d.Value)
		}
		t.Discount.Amount = min(t.Discount.Amount, t.Subtotal.Amount)
	}
	t.Total = t.Subtotal.Add(t.DeliveryFee).Sub(t.Discount)
	if t.Total.Amount < 0 {
		t.Total.Amount = 0
	}
	return t
}

// OrderPlaced starts an order's stream.
type OrderPlaced struct {
	OrderID       string        `json:"order_id"`
	BusinessID    string        `json:"business_id"`
	CustomerID    string        `json:"customer_id"`
	Fulfillment   Fulfillment   `json:"fulfillment"`
	Address       *Address      `json:"address,omitempty"`
	Lines         []Line        `json:"lines"`
	PaymentMethod PaymentMethod `json:"payment_method"`
	Note          string        `json:"note,omitempty"`
	Totals        Totals        `json:"totals"`
	// Timezone is the business's time zone when the order was placed; daily
	// reports count the order on that zone's calendar day.
	Timezone string `json:"timezone,omitempty"`
}

// OrderUpdated records new lines, address or note while the order is placed,
// with the totals recomputed.
type OrderUpdated struct {
	OrderID string   `json:"order_id"`
	Lines   []Line   `json:"lines"`
	Address *Address `json:"address,omitempty"`
	Note    string   `json:"note,omitempty"`
	Totals  Totals   `json:"totals"`
}

// OrderDiscountApplied records a discount and the totals it leads to.
type OrderDiscountApplied struct {
	OrderID  string   `json:"order_id"`
	Discount Discount `json:"discount"`
	Totals   Totals   `json:"totals"`
}

// OrderStatusChanged moves an order along its status machine.
type OrderStatusChanged struct {
	OrderID string `json:"order_id"`
	From    Status `json:"from"`
	To      Status `json:"to"`
	Reason  string `json:"reason,omitempty"`
	ByRole  Role   `json:"by_role"`
}

// OrderMessagePosted is a message between the customer and the business.
type OrderMessagePosted struct {
	OrderID    string         `json:"order_id"`
	MessageID  string         `json:"message_id"`
	AuthorID   string         `json:"author_id"`
	AuthorRole Role           `json:"author_role"`
	Text       string         `json:"text"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// EventType implements Event.
func (OrderPlaced) EventType() string { return "OrderPlaced" }

// EventType implements Event.
func (OrderUpdated) EventType() string { return "OrderUpdated" }

// EventType implements Event.
func (OrderDiscountApplied) EventType() string { return "OrderDiscountApplied" }

// EventType implements Event.
func (OrderStatusChanged) EventType() string { return "OrderStatusChanged" }

// EventType implements Event.
func (OrderMessagePosted) EventType() string { return "OrderMessagePosted" }

func init() {
	register(
		func() Event { return &OrderPlaced{} },
		func() Event { return &OrderUpdated{} },
		func() Event { return &OrderDiscountApplied{} },
		func() Event { return &OrderStatusChanged{} },
		func() Event { return &OrderMessagePosted{} },
	)
}

// Order is the state of an order, folded from its events.
type Order struct {
	ID            string
	BusinessID    string
	CustomerID    string
	Status        Status
	Fulfillment   Fulfillment
	Address       *Address
	Lines         []Line
	PaymentMethod PaymentMethod
	Note          string
	Discount      *Discount
	Totals        Totals
	Paid          bool
	Version       int64
}

// Apply folds one event into the order.
func (o *Order) Apply(e Event) {
	switch e := e.(type) {
	case *OrderPlaced:
		*o = Order{ID: e.OrderID, BusinessID: e.BusinessID, CustomerID: e.CustomerID,
			Status: StatusPlaced, Fulfillment: e.Fulfillment, Address: e.Address, Lines: e.Lines,
			PaymentMethod: e.PaymentMethod, Note: e.Note, Totals: e.Totals}
	case *OrderUpdated:
		o.Lines, o.Address, o.Note, o.Totals = e.Lines, e.Address, e.Note, e.Totals
	case *OrderDiscountApplied:
		d := e.Discount
		o.Discount, o.Totals = &d, e.Totals
	case *OrderStatusChanged:
		o.Status = e.To
	default:
		o.applyPayment(e)
	}
	o.Version++
}

// CatalogItem is a product as the order sees it when a line is priced.
type CatalogItem struct {
	ID         string
	BusinessID string
	Name       string
	Price      Money
	Available  bool
}

// LineInput is one requested line.
type LineInput struct {
	ProductID string
	Quantity  int64
	Note      string
}

// OrderInput is a request to place or change an order.
type OrderInput struct {
	Fulfillment   Fulfillment
	Address       *Address
	Lines         []LineInput
	PaymentMethod PaymentMethod
	Note          string
}

// PlaceOrder validates a new order of customer at business b, pricing its
// lines from products (keyed by id). open tells whether b takes orders now.
func PlaceOrder(id string, customer Actor, b *Business, open bool, products map[string]CatalogItem,
	in OrderInput) (*OrderPlaced, error) {
	if customer.Role != RoleCustomer {
		return nil, Errorf(CodeForbidden, "only customers place orders")
	}
	var v Validator
	v.Check(b != nil, "business_id", "no such business")
	if b == nil {
		return nil, v.Err()
	}
	v.Check(open, "business_id", "the business is not taking orders now")
	v.Check(in.Fulfillment == Delivery || in.Fulfillment == Pickup, "fulfillment",
		"must be delivery or pickup")
	v.Check(in.PaymentMethod == PayMercadoPago || in.PaymentMethod == PayCash, "payment_method",
		"must be mercadopago or cash")
	validateAddress(&v, in)
	validateNote(&v, "note", in.Note)
	lines := priceLines(&v, b, products, in.Lines)
	if err := v.Err(); err != nil {
		return nil, err
	}
	fee := Zero(b.Currency)
	if in.Fulfillment == Delivery {
		fee = b.DeliveryFee
	}
	return &OrderPlaced{OrderID: id, BusinessID: b.ID, CustomerID: customer.ID,
		Fulfillment: in.Fulfillment, Address: in.Address, Lines: lines,
		PaymentMethod: in.PaymentMethod, Note: strings.TrimSpace(in.Note),
		Totals: ComputeTotals(b.Currency, lines, fee, nil), Timezone: b.Timezone}, nil
}

func validateAddress(v *Validator, in OrderInput) {
	if in.Fulfillment != Delivery {
		return
	}
	v.Check(in.Address != nil, "address", "is required for delivery")
	if in.Address == nil {
		return
	}
	v.Check(strings.TrimSpace(in.Address.Street) != "", "address.street", "is required")
	v.Check(strings.TrimSpace(in.Address.City) != "", "address.city", "is required")
	v.Check(utf8.RuneCountInString(in.Address.Street) <= 200, "address.street", "is too long")
	v.Check(utf8.RuneCountInString(in.Address.City) <= 100, "address.city", "is too long")
	v.Check(utf8.RuneCountInString(in.Address.Notes) <= 500, "address.notes", "is too long")
}

func validateNote(v *Validator, field, note string) {
	v.Check(utf8.RuneCountInString(note) <= 500, field, "must be at most 500 characters")
}

func priceLines(v *Validator, b *Business, products map[string]CatalogItem, in []LineInput) []Line {
	v.Check(len(in) > 0, "lines", "must hold at least one line")
	v.Check(len(in) <= MaxLines, "lines", fmt.Sprintf("may hold at most %d lines", MaxLines))
	lines := make([]Line, 0, len(in))
	for i, l := range in {
		f := fmt.Sprintf("lines[%d]", i)
		p, ok := products[l.ProductID]
		v.Check(ok, f+".product_id", "no such product")
		v.Check(l.Quantity >= 1 && l.Quantity <= MaxLineQuantity, f+".quantity",
			fmt.Sprintf("must be a whole number from 1 to %d", MaxLineQuantity))
		validateNote(v, f+".note", l.Note)
		if !ok {
			continue
		}
		v.Check(p.BusinessID == b.ID, f+".product_id", "belongs to another business")
		v.Check(p.Available, f+".product_id", "is not available")
		lines = append(lines, Line{ProductID: p.ID, Name: p.Name, UnitPrice: p.Price,
			Quantity: l.Quantity, Note: strings.TrimSpace(l.Note), Total: p.Price.Times(l.Quantity)})
	}
	return lines
}

// Update validates new lines, address or note while the order is placed; a
// nil Lines keeps the current lines. Only the order's customer may do it.
func (o *Order) Update(actor Actor, b *Business, products map[string]CatalogItem,
	in OrderInput, keepLines bool) (*OrderUpdated, error) {
	if actor.Role != RoleCustomer || actor.ID != o.CustomerID {
		return nil, Errorf(CodeForbidden, "only the order's customer may change it")
	}
	if o.Status != StatusPlaced {
		return nil, o.transitionError(StatusPlaced, "the order can only be changed while it is placed")
	}
	var v Validator
	in.Fulfillment = o.Fulfillment
	if in.Address == nil {
		in.Address = o.Address
	}
	validateAddress(&v, in)
	validateNote(&v, "note", in.Note)
	lines := o.Lines
	if !keepLines {
		lines = priceLines(&v, b, products, in.Lines)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &OrderUpdated{OrderID: o.ID, Lines: lines, Address: in.Address,
		Note:   strings.TrimSpace(in.Note),
		Totals: ComputeTotals(o.Totals.Subtotal.Currency, lines, o.Totals.DeliveryFee, o.Discount)}, nil
}

// ApplyDiscount validates a discount the business gives while the order is
// placed; it replaces any earlier discount.
func (o *Order) ApplyDiscount(actor Actor, owner string, d Discount) (*OrderDiscountApplied, error) {
	if !actor.ActsFor(o.BusinessID, owner) {
		return nil, Errorf(CodeForbidden, "only the business may give a discount")
	}
	if o.Status != StatusPlaced {
		return nil, o.transitionError(StatusPlaced, "a discount can only be given while the order is placed")
	}
	var v Validator
	switch d.Kind {
	case "fixed":
		v.Check(d.Value >= 0 && d.Value <= 1e12, "value", "must be 0 to 10^12 minor units")
	case "percent":
		v.Check(d.Value >= 0 && d.Value <= 10000, "value", "must be 0 to 10000 basis points (100%)")
	default:
		v.Check(false, "kind", "must be fixed or percent")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &OrderDiscountApplied{OrderID: o.ID, Discount: d,
		Totals: ComputeTotals(o.Totals.Subtotal.Currency, o.Lines, o.Totals.DeliveryFee, &d)}, nil
}

// PostMessage validates a message on the order from its customer or its
// business.
func (o *Order) PostMessage(actor Actor, owner, messageID, text string,
	meta map[string]any) (*OrderMessagePosted, error) {
	isCustomer := actor.Role == RoleCustomer && actor.ID == o.CustomerID
	if !isCustomer && !actor.ActsFor(o.BusinessID, owner) {
		return nil, Errorf(CodeForbidden, "only the order's customer and business may post messages")
	}
	var v Validator
	t := strings.TrimSpace(text)
	v.Check(t != "" && utf8.RuneCountInString(t) <= 2000, "text", "must be 1 to 2000 characters")
	v.Check(len(meta) <= 20, "metadata", "may hold at most 20 keys")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &OrderMessagePosted{OrderID: o.ID, MessageID: messageID, AuthorID: actor.ID,
		AuthorRole: actor.Role, Text: t, Metadata: meta}, nil
}

// VisibleTo reports whether actor may read the order: its customer, its
// business, admins and auditors.
func (o *Order) VisibleTo(actor Actor, owner string) bool {
	return OrderVisibleTo(actor, o.CustomerID, o.BusinessID, owner)
}

// OrderVisibleTo is VisibleTo for an order known only by its parties.
func OrderVisibleTo(actor Actor, customerID, businessID, owner string) bool {
	if actor.ReadsEverything() || actor.ActsFor(businessID, owner) {
		return true
	}
	return actor.Role == RoleCustomer && actor.ID == customerID
}
