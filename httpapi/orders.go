package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/projections/catalog"
	"comanda/projections/orders"
)

// OrdersDeps are what the order routes need besides the server's parts.
type OrdersDeps struct {
	Catalog *catalog.Reader
	Orders  *orders.Reader
	// OnPaidCancel, when set, is called after a paid order is cancelled so a
	// full refund can be asked for; payments supply it.
	OnPaidCancel func(ctx context.Context, orderID string) error
}

type ordersAPI struct {
	s *Server
	d OrdersDeps
}

// maxCommandRetries bounds how often a command without If-Match is decided
// again after another writer moved the stream first.
const maxCommandRetries = 5

// OrdersModule serves orders: placing, changing, moving along the status
// machine, discounts, messages, history and the daily report.
func OrdersModule(d OrdersDeps) Module {
	return func(s *Server, api *echo.Group) {
		h := &ordersAPI{s: s, d: d}
		api.POST("/orders", h.create, s.Idempotent)
		api.GET("/orders", h.list)
		api.GET("/orders/:id", h.get)
		api.PATCH("/orders/:id", h.update, s.Idempotent)
		api.POST("/orders/:id/transitions", h.transition, s.Idempotent)
		api.POST("/orders/:id/discount", h.discount, s.Idempotent)
		api.POST("/orders/:id/messages", h.postMessage, s.Idempotent)
		api.GET("/orders/:id/messages", h.messages)
		api.GET("/orders/:id/history", h.history)
		api.GET("/businesses/:id/reports/daily", h.daily)
	}
}

type addressBody struct {
	Street string `json:"street"`
	City   string `json:"city"`
	Notes  string `json:"notes"`
}

type lineBody struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
	Note      string `json:"note"`
}

type orderBody struct {
	BusinessID    string       `json:"business_id"`
	Fulfillment   string       `json:"fulfillment"`
	Address       *addressBody `json:"address"`
	Lines         []lineBody   `json:"lines"`
	PaymentMethod string       `json:"payment_method"`
	Note          string       `json:"note"`
}

func (b orderBody) input() domain.OrderInput {
	in := domain.OrderInput{Fulfillment: domain.Fulfillment(b.Fulfillment),
		PaymentMethod: domain.PaymentMethod(b.PaymentMethod), Note: b.Note}
	if b.Address != nil {
		in.Address = &domain.Address{Street: b.Address.Street, City: b.Address.City, Notes: b.Address.Notes}
	}
	for _, l := range b.Lines {
		in.Lines = append(in.Lines, domain.LineInput{ProductID: l.ProductID, Quantity: l.Quantity, Note: l.Note})
	}
	return in
}

// orderView is an order as commands answer it, from the order's own events.
type orderView struct {
	ID                 string           `json:"id"`
	BusinessID         string           `json:"business_id"`
	CustomerID         string           `json:"customer_id"`
	Status             domain.Status    `json:"status"`
	Fulfillment        string           `json:"fulfillment"`
	PaymentMethod      string           `json:"payment_method"`
	Paid               bool             `json:"paid"`
	Address            *domain.Address  `json:"address"`
	Lines              []domain.Line    `json:"lines"`
	Note               string           `json:"note"`
	DiscountRule       *domain.Discount `json:"discount_rule"`
	Subtotal           domain.Money     `json:"subtotal"`
	DeliveryFee        domain.Money     `json:"delivery_fee"`
	Discount           domain.Money     `json:"discount"`
	Total              domain.Money     `json:"total"`
	AllowedTransitions []domain.Status  `json:"allowed_transitions"`
	Version            int64            `json:"version"`
	Position           int64            `json:"position"`
}

func viewOfOrder(o *domain.Order, position int64) orderView {
	return orderView{ID: o.ID, BusinessID: o.BusinessID, CustomerID: o.CustomerID, Status: o.Status,
		Fulfillment: string(o.Fulfillment), PaymentMethod: string(o.PaymentMethod), Paid: o.Paid,
		Address: o.Address, Lines: o.Lines, Note: o.Note, DiscountRule: o.Discount,
		Subtotal: o.Totals.Subtotal, DeliveryFee: o.Totals.DeliveryFee, Discount: o.Totals.Discount,
		Total: o.Totals.Total, AllowedTransitions: o.AllowedTransitions(domain.Actor{}, ""),
		Version: o.Version, Position: position}
}

// businessForOrder reads a business from the catalog read model in the
// domain's terms; a missing one returns nil.
func (h *ordersAPI) businessForOrder(ctx context.Context, raw string) (*domain.Business, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, nil
	}
	b, err := h.d.Catalog.Business(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &domain.Business{ID: b.ID.String(), OwnerID: b.OwnerID.String(), Name: b.Name,
		Currency: b.Currency, DeliveryFee: b.DeliveryFee, Open: b.Open, Timezone: b.Timezone,
		Hours: b.Hours, Version: b.Version}, nil
}

// catalogForOrder reads the business and prices the lines' products in one
// round trip; a malformed or unknown business returns nil.
func (h *ordersAPI) catalogForOrder(ctx context.Context, rawBusiness string, lines []lineBody) (
	*domain.Business, map[string]domain.CatalogItem, error) {
	id, err := uuid.Parse(rawBusiness)
	if err != nil {
		items, err := h.productsForOrder(ctx, lines)
		return nil, items, err
	}
	var ids []string
	for _, l := range lines {
		if _, err := uuid.Parse(l.ProductID); err == nil {
			ids = append(ids, l.ProductID)
		}
	}
	b, items, err := h.d.Catalog.ForOrder(ctx, id, ids)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, items, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &domain.Business{ID: b.ID.String(), OwnerID: b.OwnerID.String(), Name: b.Name,
		Currency: b.Currency, DeliveryFee: b.DeliveryFee, Open: b.Open, Timezone: b.Timezone,
		Hours: b.Hours, Version: b.Version}, items, nil
}

// productsForOrder prices the lines' products; malformed ids are left out so
// the domain reports them as unknown products.
func (h *ordersAPI) productsForOrder(ctx context.Context, lines []lineBody) (map[string]domain.CatalogItem, error) {
	var ids []string
	for _, l := range lines {
		if _, err := uuid.Parse(l.ProductID); err == nil {
			ids = append(ids, l.ProductID)
		}
	}
	if len(ids) == 0 {
		return map[string]domain.CatalogItem{}, nil
	}
	return h.d.Catalog.ItemsForOrder(ctx, ids)
}

func (h *ordersAPI) create(c echo.Context) (err error) {
	defer func() { h.s.cmds.observe("create_order", err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	var body orderBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	// A client that just changed the catalog may ask the order to see it.
	if err := h.s.awaitProjection(c, catalog.Name); err != nil {
		return err
	}
	b, items, err := h.catalogForOrder(c.Request().Context(), body.BusinessID, body.Lines)
	if err != nil {
		return err
	}
	open := false
	if b != nil {
		loc, lerr := time.LoadLocation(b.Timezone)
		if lerr != nil {
			loc = time.UTC
		}
		open = b.OpenAt(h.s.deps.Now(), loc)
	}
	id := h.s.deps.NewID().String()
	ev, err := domain.PlaceOrder(id, p.Actor(), b, open, items, body.input())
	if err != nil {
		return err
	}
	res, err := h.s.commit(c, eventstore.Stream{Type: domain.StreamOrder, ID: id}, eventstore.NoStream, ev)
	if err != nil {
		return err
	}
	var o domain.Order
	o.Apply(ev)
	setWritten(c, res.Version, res.Position)
	c.Response().Header().Set("Location", "/v1/orders/"+id)
	return c.JSON(http.StatusCreated, viewOfOrder(&o, res.Position))
}

// loadOrder folds an order from its events and reads its business's owner.
func (h *ordersAPI) loadOrder(ctx context.Context, id uuid.UUID) (*domain.Order, string, error) {
	var o domain.Order
	v, err := h.s.load(ctx, id.String(), &o)
	if err != nil {
		return nil, "", err
	}
	if v == 0 || o.ID == "" {
		return nil, "", domain.Errorf(domain.CodeNotFound, "no such order")
	}
	b, err := h.d.Catalog.Business(ctx, uuid.MustParse(o.BusinessID))
	if err != nil {
		return nil, "", err
	}
	return &o, b.OwnerID.String(), nil
}

// orderCommand decides a command on the current state of an order and
// appends its events. With If-Match the client's version must be current;
// without it, a lost race is decided again on the new state, so the command
// either still applies or is refused for the state the order is now in.
func (h *ordersAPI) orderCommand(c echo.Context, name string,
	decide func(o *domain.Order, owner string, actor domain.Actor) ([]domain.Event, error)) (err error) {
	defer func() { h.s.cmds.observe(name, err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "order")
	if err != nil {
		return err
	}
	_, hasIfMatch := c.Request().Header["If-Match"]
	ctx := c.Request().Context()
	for attempt := 0; ; attempt++ {
		o, owner, err := h.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		if !o.VisibleTo(p.Actor(), owner) {
			return domain.Errorf(domain.CodeNotFound, "no such order")
		}
		expected, err := expectedFrom(c, o.Version)
		if err != nil {
			return err
		}
		events, err := decide(o, owner, p.Actor())
		if err != nil {
			return err
		}
		res, err := h.s.commit(c, eventstore.Stream{Type: domain.StreamOrder, ID: o.ID}, expected, events...)
		if domain.ErrorCode(err) == domain.CodeVersionConflict && !hasIfMatch && attempt < maxCommandRetries {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range events {
			o.Apply(e)
		}
		setWritten(c, o.Version, res.Position)
		return c.JSON(http.StatusOK, viewOfOrder(o, res.Position))
	}
}
