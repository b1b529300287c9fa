package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Stream types of the catalog.
const (
	StreamBusiness = "business"
	StreamProduct  = "product"
)

// OpeningHours is one weekly window in which a business takes orders.
// Weekday 0 is Sunday; times are "HH:MM" in the business's time zone, and a
// window that closes before it opens runs past midnight.
type OpeningHours struct {
	Weekday int    `json:"weekday"`
	Opens   string `json:"opens"`
	Closes  string `json:"closes"`
}

// BusinessRegistered starts a business's stream.
type BusinessRegistered struct {
	BusinessID  string         `json:"business_id"`
	OwnerID     string         `json:"owner_id"`
	Name        string         `json:"name"`
	Currency    Currency       `json:"currency"`
	DeliveryFee Money          `json:"delivery_fee"`
	Open        bool           `json:"open"`
	Timezone    string         `json:"timezone"`
	Hours       []OpeningHours `json:"hours"`
}

// BusinessChanged records new details of a business; absent fields did not
// change.
type BusinessChanged struct {
	BusinessID  string          `json:"business_id"`
	Name        *string         `json:"name,omitempty"`
	DeliveryFee *Money          `json:"delivery_fee,omitempty"`
	Open        *bool           `json:"open,omitempty"`
	Timezone    *string         `json:"timezone,omitempty"`
	Hours       *[]OpeningHours `json:"hours,omitempty"`
}

// EventType implements Event.
func (BusinessRegistered) EventType() string { return "BusinessRegistered" }

// EventType implements Event.
func (BusinessChanged) EventType() string { return "BusinessChanged" }

// Business is the state of a business, folded from its events.
type Business struct {
	ID          string
	OwnerID     string
	Name        string
	Currency    Currency
	DeliveryFee Money
	Open        bool
	Timezone    string
	Hours       []OpeningHours
	Version     int64
}

// Apply folds one event into the business.
func (b *Business) Apply(e Event) {
	switch e := e.(type) {
	case *BusinessRegistered:
		*b = Business{ID: e.BusinessID, OwnerID: e.OwnerID, Name: e.Name, Currency: e.Currency,
			DeliveryFee: e.DeliveryFee, Open: e.Open, Timezone: e.Timezone, Hours: e.Hours}
	case *BusinessChanged:
		if e.Name != nil {
			b.Name = *e.Name
		}
		if e.DeliveryFee != nil {
			b.DeliveryFee = *e.DeliveryFee
		}
		if e.Open != nil {
			b.Open = *e.Open
		}
		if e.Timezone != nil {
			b.Timezone = *e.Timezone
		}
		if e.Hours != nil {
			b.Hours = *e.Hours
		}
	}
	b.Version++
}

// BusinessInput is what an owner sends to register or change a business.
// Nil fields are left as they are on a change.
type BusinessInput struct {
	Name        *string
	Currency    *Currency
	DeliveryFee *Money
	Open        *bool
	Timezone    *string
	Hours       *[]OpeningHours
}

// RegisterBusiness validates a new business for its owner.
func RegisterBusiness(id string, owner Actor, in BusinessInput, zones ZoneChecker) (Event, error) {
	if owner.Role != RoleBusinessOwner && owner.Role != RoleAdmin {
		return nil, Errorf(CodeForbidden, "only business owners register businesses")
	}
	var v Validator
	v.Check(in.Name != nil, "name", "is required")
	v.Check(in.Currency != nil, "currency", "is required")
	if err := validateBusiness(&v, in, in.Currency, zones); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	e := &BusinessRegistered{BusinessID: id, OwnerID: owner.ID, Name: strings.TrimSpace(*in.Name),
		Currency: *in.Currency, DeliveryFee: Zero(*in.Currency), Open: true,
		Timezone: "America/Argentina/Buenos_Aires", Hours: []OpeningHours{}}
	if in.DeliveryFee != nil {
		e.DeliveryFee = *in.DeliveryFee
	}
	if in.Open != nil {
		e.Open = *in.Open
	}
	if in.Timezone != nil {
		e.Timezone = *in.Timezone
	}
	if in.Hours != nil {
		e.Hours = *in.Hours
	}
	return e, nil
}

// Change validates new details for the business, by someone acting for it.
// It returns no event when nothing would change.
func (b *Business) Change(actor Actor, in BusinessInput, zones ZoneChecker) (Event, error) {
	if !actor.ActsFor(b.ID, b.OwnerID) {
		return nil, Errorf(CodeForbidden, "only the business's owner, its staff or an admin may change it")
	}
	var v Validator
	v.Check(in.Currency == nil || *in.Currency == b.Currency, "currency", "cannot be changed")
	cur := b.Currency
	if err := validateBusiness(&v, in, &cur, zones); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	e := &BusinessChanged{BusinessID: b.ID}
	changed := false
	if in.Name != nil && strings.TrimSpace(*in.Name) != b.Name {
		n := strings.TrimSpace(*in.Name)
		e.Name, changed = &n, true
	}
	if in.DeliveryFee != nil && *in.DeliveryFee != b.DeliveryFee {
		e.DeliveryFee, changed = in.DeliveryFee, true
	}
	if in.Open != nil && *in.Open != b.Open {
		e.Open, changed = in.Open, true
	}
	if in.Timezone != nil && *in.Timezone != b.Timezone {
		e.Timezone, changed = in.Timezone, true
	}
	if in.Hours != nil {
		e.Hours, changed = in.Hours, true
	}
	if !changed {
		return nil, nil
	}
	return e, nil
}

// ZoneChecker reports whether a time zone name is known; the standard
// library's time.LoadLocation fits.
type ZoneChecker func(name string) bool

func validateBusiness(v *Validator, in BusinessInput, cur *Currency, zones ZoneChecker) error {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		v.Check(n != "" && utf8.RuneCountInString(n) <= 120, "name", "must be 1 to 120 characters")
	}
	if in.Currency != nil {
		v.Check(in.Currency.Valid(), "currency", "must be one of ARS, BRL, CLP, COP, MXN, PEN, UYU")
	}
	if in.DeliveryFee != nil {
		v.Check(in.DeliveryFee.Amount >= 0 && in.DeliveryFee.Amount <= 1e12,
			"delivery_fee.amount", "must be between 0 and 10^12 minor units")
		v.Check(cur != nil && in.DeliveryFee.Currency == *cur, "delivery_fee.currency",
			"must be the business's currency")
	}
	if in.Timezone != nil {
		v.Check(zones == nil || zones(*in.Timezone), "timezone", "must be an IANA time zone name")
	}
	if in.Hours != nil {
		v.Check(len(*in.Hours) <= 50, "hours", "may hold at most 50 windows")
		for i, h := range *in.Hours {
			f := fmt.Sprintf("hours[%d]", i)
			v.Check(h.Weekday >= 0 && h.Weekday <= 6, f+".weekday", "must be 0 (Sunday) to 6")
			_, okO := clockMinutes(h.Opens)
			_, okC := clockMinutes(h.Closes)
			v.Check(okO, f+".opens", "must be a time such as 09:30")
			v.Check(okC, f+".closes", "must be a time such as 22:00")
		}
	}
	return nil
}

func clockMinutes(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// OpenAt reports whether the business takes orders at t. The switch must be
// on; when hours are set, t (in loc, the business's zone) must also fall in
// one of them.
func (b *Business) OpenAt(t time.Time, loc *time.Location) bool {
	if !b.Open {
		return false
	}
	if len(b.Hours) == 0 {
		return true
	}
	if loc != nil {
		t = t.In(loc)
	}
	now := t.Hour()*60 + t.Minute()
	today, yesterday := int(t.Weekday()), (int(t.Weekday())+6)%7
	for _, h := range b.Hours {
		o, _ := clockMinutes(h.Opens)
		c, _ := clockMinutes(h.Closes)
		switch {
		case o <= c && h.Weekday == today && now >= o && now < c:
			return true
		case o > c && h.Weekday == today && now >= o:
			return true
		case o > c && h.Weekday == yesterday && now < c:
			return true
		}
	}
	return false
}
