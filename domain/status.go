package domain

import "slices"

// party is who may ask for a transition.
type party int

const (
	byCustomer party = 1 << iota
	byBusiness
)

// transition is one edge of the status machine.
type transition struct {
	to          Status
	who         party
	fulfillment Fulfillment // empty: any
}

// machine lists the legal transitions out of each status. Terminal statuses
// have none.
var machine = map[Status][]transition{
	StatusPlaced: {
		{to: StatusConfirmed, who: byBusiness},
		{to: StatusCancelled, who: byCustomer | byBusiness},
	},
	StatusConfirmed: {
		{to: StatusPreparing, who: byBusiness},
		{to: StatusCancelled, who: byCustomer | byBusiness},
	},
	StatusPreparing: {
		{to: StatusReady, who: byBusiness},
		{to: StatusCancelled, who: byBusiness},
	},
	StatusReady: {
		{to: StatusOutForDelivery, who: byBusiness, fulfillment: Delivery},
		{to: StatusPickedUp, who: byBusiness, fulfillment: Pickup},
	},
	StatusOutForDelivery: {
		{to: StatusDelivered, who: byBusiness},
	},
}

// ValidStatus reports whether s is a known status.
func ValidStatus(s Status) bool {
	switch s {
	case StatusPlaced, StatusConfirmed, StatusPreparing, StatusReady, StatusOutForDelivery,
		StatusDelivered, StatusPickedUp, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether an order in status s accepts no more transitions.
func (s Status) Terminal() bool { return len(machine[s]) == 0 }

func (o *Order) partyOf(actor Actor, owner string) party {
	var p party
	if actor.Role == RoleCustomer && actor.ID == o.CustomerID {
		p |= byCustomer
	}
	if actor.ActsFor(o.BusinessID, owner) {
		p |= byBusiness
	}
	return p
}

// AllowedTransitions lists the statuses actor may move the order to now;
// with a zero actor it lists every status reachable by anyone.
func (o *Order) AllowedTransitions(actor Actor, owner string) []Status {
	who := o.partyOf(actor, owner)
	if actor == (Actor{}) {
		who = byCustomer | byBusiness
	}
	out := []Status{}
	for _, t := range machine[o.Status] {
		if t.who&who != 0 && (t.fulfillment == "" || t.fulfillment == o.Fulfillment) {
			out = append(out, t.to)
		}
	}
	return out
}

// Transition validates moving the order to status to on behalf of actor. The
// business's owner id decides who acts for the business.
func (o *Order) Transition(actor Actor, owner string, to Status, reason string) (*OrderStatusChanged, error) {
	who := o.partyOf(actor, owner)
	if who == 0 {
		return nil, Errorf(CodeForbidden, "only the order's customer and business may move it")
	}
	if !ValidStatus(to) {
		return nil, Invalid(FieldError{Field: "to", Message: "is not a known status"})
	}
	var v Validator
	validateNote(&v, "reason", reason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var edge *transition
	for i, t := range machine[o.Status] {
		if t.to == to && (t.fulfillment == "" || t.fulfillment == o.Fulfillment) {
			edge = &machine[o.Status][i]
		}
	}
	if edge == nil {
		return nil, o.transitionError(to, "")
	}
	if edge.who&who == 0 {
		return nil, &Error{Code: CodeForbidden,
			Message: "you may not move this order from " + string(o.Status) + " to " + string(to),
			Details: map[string]any{"status": o.Status, "allowed": o.AllowedTransitions(actor, owner)}}
	}
	if to == StatusPreparing && o.PaymentMethod == PayMercadoPago && !o.Paid {
		return nil, &Error{Code: CodeInvalidTransition,
			Message: "an order paid through MercadoPago cannot be prepared before it is paid",
			Details: map[string]any{"status": o.Status, "allowed": o.AllowedTransitions(actor, owner),
				"paid": false}}
	}
	return &OrderStatusChanged{OrderID: o.ID, From: o.Status, To: to, Reason: reason,
		ByRole: actor.Role}, nil
}

func (o *Order) transitionError(to Status, msg string) *Error {
	if msg == "" {
		msg = "the order cannot move from " + string(o.Status) + " to " + string(to)
		if o.Status.Terminal() {
			msg = "the order is " + string(o.Status) + " and accepts no more changes"
		}
	}
	allowed := o.AllowedTransitions(Actor{}, "")
	slices.Sort(allowed)
	return &Error{Code: CodeInvalidTransition, Message: msg,
		Details: map[string]any{"status": o.Status, "allowed": allowed}}
}
