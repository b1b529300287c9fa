package domain

import (
	"strings"
	"unicode/utf8"
)

// ProductAdded starts a product's stream.
type ProductAdded struct {
	ProductID   string `json:"product_id"`
	BusinessID  string `json:"business_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Price       Money  `json:"price"`
	Available   bool   `json:"available"`
}

// ProductDetailsChanged records a new name, description or category.
type ProductDetailsChanged struct {
	ProductID   string  `json:"product_id"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Category    *string `json:"category,omitempty"`
}

// ProductPriceChanged records a new price, so a product's history shows
// every price it had.
type ProductPriceChanged struct {
	ProductID string `json:"product_id"`
	From      Money  `json:"from"`
	To        Money  `json:"to"`
}

// ProductAvailabilityChanged switches a product on or off the menu.
type ProductAvailabilityChanged struct {
	ProductID string `json:"product_id"`
	Available bool   `json:"available"`
}

// ProductImageSet records a new image for a product.
type ProductImageSet struct {
	ProductID   string `json:"product_id"`
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// ProductArchived takes a product off the catalog for good.
type ProductArchived struct {
	ProductID string `json:"product_id"`
}

// EventType implements Event.
func (ProductAdded) EventType() string { return "ProductAdded" }

// EventType implements Event.
func (ProductDetailsChanged) EventType() string { return "ProductDetailsChanged" }

// EventType implements Event.
func (ProductPriceChanged) EventType() string { return "ProductPriceChanged" }

// EventType implements Event.
func (ProductAvailabilityChanged) EventType() string { return "ProductAvailabilityChanged" }

// EventType implements Event.
func (ProductImageSet) EventType() string { return "ProductImageSet" }

// EventType implements Event.
func (ProductArchived) EventType() string { return "ProductArchived" }

func init() {
	register(
		func() Event { return &BusinessRegistered{} },
		func() Event { return &BusinessChanged{} },
		func() Event { return &ProductAdded{} },
		func() Event { return &ProductDetailsChanged{} },
		func() Event { return &ProductPriceChanged{} },
		func() Event { return &ProductAvailabilityChanged{} },
		func() Event { return &ProductImageSet{} },
		func() Event { return &ProductArchived{} },
	)
}

// Product is the state of a product, folded from its events.
type Product struct {
	ID          string
	BusinessID  string
	Name        string
	Description string
	Category    string
	Price       Money
	Available   bool
	Archived    bool
	ImagePath   string
	Version     int64
}

// Apply folds one event into the product.
func (p *Product) Apply(e Event) {
	switch e := e.(type) {
	case *ProductAdded:
		*p = Product{ID: e.ProductID, BusinessID: e.BusinessID, Name: e.Name,
			Description: e.Description, Category: e.Category, Price: e.Price, Available: e.Available}
	case *ProductDetailsChanged:
		if e.Name != nil {
			p.Name = *e.Name
		}
		if e.Description != nil {
			p.Description = *e.Description
		}
		if e.Category != nil {
			p.Category = *e.Category
		}
	case *ProductPriceChanged:
		p.Price = e.To
	case *ProductAvailabilityChanged:
		p.Available = e.Available
	case *ProductImageSet:
		p.ImagePath = e.Path
	case *ProductArchived:
		p.Archived, p.Available = true, false
	}
	p.Version++
}

// ProductInput is what a business sends to add or change a product. Nil
// fields are left as they are on a change.
type ProductInput struct {
	Name        *string
	Description *string
	Category    *string
	Price       *Money
	Available   *bool
}

func validateProduct(v *Validator, in ProductInput, currency Currency) {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		v.Check(n != "" && utf8.RuneCountInString(n) <= 120, "name", "must be 1 to 120 characters")
	}
	if in.Description != nil {
		v.Check(utf8.RuneCountInString(*in.Description) <= 2000, "description",
			"must be at most 2000 characters")
	}
	if in.Category != nil {
		v.Check(utf8.RuneCountInString(*in.Category) <= 60, "category", "must be at most 60 characters")
	}
	if in.Price != nil {
		v.Check(in.Price.Amount > 0 && in.Price.Amount <= 1e12, "price.amount",
			"must be between 1 and 10^12 minor units")
		v.Check(in.Price.Currency == currency, "price.currency", "must be the business's currency ("+
			string(currency)+")")
	}
}

// AddProduct validates a new product of business b.
func (b *Business) AddProduct(id string, actor Actor, in ProductInput) (Event, error) {
	if !actor.ActsFor(b.ID, b.OwnerID) {
		return nil, Errorf(CodeForbidden, "only the business's owner, its staff or an admin may add products")
	}
	var v Validator
	v.Check(in.Name != nil, "name", "is required")
	v.Check(in.Price != nil, "price", "is required")
	validateProduct(&v, in, b.Currency)
	if err := v.Err(); err != nil {
		return nil, err
	}
	e := &ProductAdded{ProductID: id, BusinessID: b.ID, Name: strings.TrimSpace(*in.Name),
		Price: *in.Price, Available: true}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.Category != nil {
		e.Category = strings.TrimSpace(*in.Category)
	}
	if in.Available != nil {
		e.Available = *in.Available
	}
	return e, nil
}

// Change validates new details of product p of business b; a price change
// is its own event. It returns no events when nothing would change.
func (p *Product) Change(b *Business, actor Actor, in ProductInput) ([]Event, error) {
	if err := p.mutable(b, actor); err != nil {
		return nil, err
	}
	var v Validator
	validateProduct(&v, in, b.Currency)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []Event
	d := &ProductDetailsChanged{ProductID: p.ID}
	if in.Name != nil && strings.TrimSpace(*in.Name) != p.Name {
		n := strings.TrimSpace(*in.Name)
		d.Name = &n
	}
	if in.Description != nil && *in.Description != p.Description {
		d.Description = in.Description
	}
	if in.Category != nil && strings.TrimSpace(*in.Category) != p.Category {
		c := strings.TrimSpace(*in.Category)
		d.Category = &c
	}
	if d.Name != nil || d.Description != nil || d.Category != nil {
		out = append(out, d)
	}
	if in.Price != nil && *in.Price != p.Price {
		out = append(out, &ProductPriceChanged{ProductID: p.ID, From: p.Price, To: *in.Price})
	}
	if in.Available != nil && *in.Available != p.Available {
		out = append(out, &ProductAvailabilityChanged{ProductID: p.ID, Available: *in.Available})
	}
	return out, nil
}

// SetImage records an image stored at path for the product.
func (p *Product) SetImage(b *Business, actor Actor, path, contentType string, size int64) (Event, error) {
	if err := p.mutable(b, actor); err != nil {
		return nil, err
	}
	return &ProductImageSet{ProductID: p.ID, Path: path, ContentType: contentType, Size: size}, nil
}

// Archive takes the product off the catalog.
func (p *Product) Archive(b *Business, actor Actor) (Event, error) {
	if err := p.mutable(b, actor); err != nil {
		return nil, err
	}
	return &ProductArchived{ProductID: p.ID}, nil
}

func (p *Product) mutable(b *Business, actor Actor) error {
	if !actor.ActsFor(b.ID, b.OwnerID) {
		return Errorf(CodeForbidden, "only the business's owner, its staff or an admin may change its products")
	}
	if p.Archived {
		return Errorf(CodeConflict, "the product is archived")
	}
	return nil
}
