package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/projections/catalog"
	"comanda/projections/orders"
)

func (h *ordersAPI) update(c echo.Context) error {
	var body struct {
		Address *addressBody `json:"address"`
		Lines   []lineBody   `json:"lines"`
		Note    *string      `json:"note"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	return h.orderCommand(c, "update_order",
		func(o *domain.Order, _ string, a domain.Actor) ([]domain.Event, error) {
			b, err := h.businessForOrder(ctx, o.BusinessID)
			if err != nil {
				return nil, err
			}
			items, err := h.productsForOrder(ctx, body.Lines)
			if err != nil {
				return nil, err
			}
			in := orderBody{Address: body.Address, Lines: body.Lines}.input()
			in.Note = o.Note
			if body.Note != nil {
				in.Note = *body.Note
			}
			ev, err := o.Update(a, b, items, in, body.Lines == nil)
			if err != nil {
				return nil, err
			}
			return []domain.Event{ev}, nil
		})
}

func (h *ordersAPI) transition(c echo.Context) error {
	var body struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	err := h.orderCommand(c, "transition_order",
		func(o *domain.Order, owner string, a domain.Actor) ([]domain.Event, error) {
			ev, err := o.Transition(a, owner, domain.Status(body.To), body.Reason)
			if err != nil {
				return nil, err
			}
			return []domain.Event{ev}, nil
		})
	if err == nil && body.To == string(domain.StatusCancelled) && h.d.OnPaidCancel != nil {
		if rerr := h.d.OnPaidCancel(c.Request().Context(), c.Param("id")); rerr != nil {
			// The cancellation stands; the refund is retried by reconciliation.
			h.s.log.Error("ask for refund of cancelled order", "order_id", c.Param("id"), "error", rerr)
		}
	}
	return err
}

func (h *ordersAPI) discount(c echo.Context) error {
	var body domain.Discount
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	return h.orderCommand(c, "apply_discount",
		func(o *domain.Order, owner string, a domain.Actor) ([]domain.Event, error) {
			ev, err := o.ApplyDiscount(a, owner, body)
			if err != nil {
				return nil, err
			}
			return []domain.Event{ev}, nil
		})
}

func (h *ordersAPI) postMessage(c echo.Context) error {
	var body struct {
		Text     string         `json:"text"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	msgID := h.s.deps.NewID().String()
	key := c.Request().Header.Get("Idempotency-Key")
	return h.orderCommand(c, "post_message",
		func(o *domain.Order, owner string, a domain.Actor) ([]domain.Event, error) {
			if key != "" {
				// Keys belong to their caller, so two authors using the same
				// key post two messages.
				msgID = uuid.NewSHA1(uuid.NameSpaceURL, []byte(a.String()+"/"+o.ID+"/"+key)).String()
			}
			ev, err := o.PostMessage(a, owner, msgID, body.Text, body.Metadata)
			if err != nil {
				return nil, err
			}
			return []domain.Event{ev}, nil
		})
}

// readableOrder checks that the caller may read the order and returns its
// read-model row.
func (h *ordersAPI) readableOrder(c echo.Context) (orders.Order, error) {
	p, err := mustPrincipal(c)
	if err != nil {
		return orders.Order{}, err
	}
	id, err := pathID(c, "id", "order")
	if err != nil {
		return orders.Order{}, err
	}
	if err := h.s.awaitProjection(c, orders.Name); err != nil {
		return orders.Order{}, err
	}
	ctx := c.Request().Context()
	o, err := h.d.Orders.Get(ctx, id)
	if errors.Is(err, orders.ErrNotFound) {
		return orders.Order{}, domain.Errorf(domain.CodeNotFound, "no such order")
	}
	if err != nil {
		return orders.Order{}, err
	}
	// Only a business owner needs the business's owner looked up; everyone
	// else is decided from the order row alone, which saves a query on the
	// busiest read.
	owner := ""
	if p.Role == domain.RoleBusinessOwner {
		if owner, err = h.ownerOf(c, o.BusinessID); err != nil {
			return orders.Order{}, err
		}
	}
	if !domain.OrderVisibleTo(p.Actor(), o.CustomerID, o.BusinessID, owner) {
		return orders.Order{}, domain.Errorf(domain.CodeNotFound, "no such order")
	}
	return o, nil
}

func (h *ordersAPI) ownerOf(c echo.Context, business string) (string, error) {
	b, err := h.d.Catalog.Business(c.Request().Context(), uuid.MustParse(business))
	if errors.Is(err, catalog.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return b.OwnerID.String(), nil
}

func (h *ordersAPI) get(c echo.Context) error {
	if c.QueryParam("as_of_version") != "" || c.QueryParam("as_of") != "" {
		return h.getAsOf(c)
	}
	o, err := h.readableOrder(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(o.Version))
	return c.JSON(http.StatusOK, o)
}

// getAsOf rebuilds the order from its events as it stood at a version or a
// time; it reads the event store, not the read model, so it is exact.
func (h *ordersAPI) getAsOf(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "order")
	if err != nil {
		return err
	}
	var asOf struct {
		v int64
		t time.Time
	}
	if raw := c.QueryParam("as_of_version"); raw != "" {
		if asOf.v, err = strconv.ParseInt(raw, 10, 64); err != nil || asOf.v < 1 {
			return domain.Invalid(domain.FieldError{Field: "as_of_version", Message: "must be a version from 1"})
		}
	}
	if raw := c.QueryParam("as_of"); raw != "" {
		if asOf.t, err = time.Parse(time.RFC3339Nano, raw); err != nil {
			return domain.Invalid(domain.FieldError{Field: "as_of", Message: "must be an RFC 3339 time"})
		}
	}
	all, err := h.visibleStream(c, p, id)
	if err != nil {
		return err
	}
	var upTo []domain.Event
	position := int64(0)
	for _, e := range all {
		// Times are reported to the microsecond, so an event is compared at
		// the time its history entry shows.
		at := e.Metadata.OccurredAt.Truncate(time.Microsecond)
		if (asOf.v > 0 && e.Version > asOf.v) || (!asOf.t.IsZero() && at.After(asOf.t)) {
			break
		}
		de, err := domain.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			return err
		}
		upTo, position = append(upTo, de), e.Position
	}
	if len(upTo) == 0 {
		return domain.Errorf(domain.CodeNotFound, "the order did not exist yet at that point")
	}
	var past domain.Order
	for _, e := range upTo {
		past.Apply(e)
	}
	return c.JSON(http.StatusOK, viewOfOrder(&past, position))
}

// visibleStream reads an order's whole stream from the event store, after
// checking from its first event that the caller may see the order.
func (h *ordersAPI) visibleStream(c echo.Context, p Principal, id uuid.UUID) ([]eventstore.Event, error) {
	events, err := h.s.deps.Store.ReadStream(c.Request().Context(), id.String(), 1)
	if err != nil {
		return nil, err
	}
	var o domain.Order
	if _, err := foldEvents(events[:min(1, len(events))], &o); err != nil {
		return nil, err
	}
	if o.ID == "" {
		return nil, domain.Errorf(domain.CodeNotFound, "no such order")
	}
	owner, err := h.ownerOf(c, o.BusinessID)
	if err != nil {
		return nil, err
	}
	if !o.VisibleTo(p.Actor(), owner) {
		return nil, domain.Errorf(domain.CodeNotFound, "no such order")
	}
	return events, nil
}

func (h *ordersAPI) history(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "order")
	if err != nil {
		return err
	}
	events, err := h.visibleStream(c, p, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"order_id": id.String(), "items": historyOf(events)})
}

func (h *ordersAPI) messages(c echo.Context) error {
	o, err := h.readableOrder(c)
	if err != nil {
		return err
	}
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	after := int64(0)
	if cur != nil {
		after = cur.Pos
	}
	items, err := h.d.Orders.Messages(c.Request().Context(), uuid.MustParse(o.ID), after, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(m orders.Message) pageCursor {
		return pageCursor{Pos: m.Position}
	}))
}

func parseTimeParam(c echo.Context, name string) (*time.Time, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return nil, domain.Invalid(domain.FieldError{Field: name, Message: "must be an RFC 3339 time"})
	}
	return &t, nil
}

func uuidParam(c echo.Context, name string) (*uuid.UUID, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, domain.Invalid(domain.FieldError{Field: name, Message: "must be a UUID"})
	}
	return &id, nil
}

func (h *ordersAPI) list(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, orders.Name); err != nil {
		return err
	}
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	f := orders.Filter{Limit: limit}
	if cur != nil {
		f.AfterAt, f.AfterID = &cur.At, cur.ID
	}
	if f.Business, err = uuidParam(c, "business_id"); err != nil {
		return err
	}
	if f.Customer, err = uuidParam(c, "customer_id"); err != nil {
		return err
	}
	if s := c.QueryParam("status"); s != "" {
		if !domain.ValidStatus(domain.Status(s)) {
			return domain.Invalid(domain.FieldError{Field: "status", Message: "is not a known status"})
		}
		f.Status = &s
	}
	if f.From, err = parseTimeParam(c, "created_from"); err != nil {
		return err
	}
	if f.To, err = parseTimeParam(c, "created_to"); err != nil {
		return err
	}
	if err := h.scopeList(c, p, &f); err != nil {
		return err
	}
	items, err := h.d.Orders.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(o orders.Order) pageCursor {
		return pageCursor{At: o.CreatedAt, ID: uuid.MustParse(o.ID)}
	}))
}

// scopeList narrows a list to what the caller may see: customers their own
// orders, businesses their own business's, admins and auditors everything.
func (h *ordersAPI) scopeList(c echo.Context, p Principal, f *orders.Filter) error {
	a := p.Actor()
	switch {
	case a.ReadsEverything():
		return nil
	case a.Role == domain.RoleCustomer:
		if f.Customer != nil && *f.Customer != p.UserID {
			return domain.Errorf(domain.CodeForbidden, "customers see only their own orders")
		}
		f.Customer = &p.UserID
		return nil
	case a.Role == domain.RoleStaff:
		if f.Business != nil && *f.Business != p.BusinessID {
			return domain.Errorf(domain.CodeForbidden, "staff see only their business's orders")
		}
		f.Business = &p.BusinessID
		return nil
	default:
		if f.Business == nil {
			return domain.Invalid(domain.FieldError{Field: "business_id",
				Message: "is required: business owners list one business's orders at a time"})
		}
		owner, err := h.ownerOf(c, f.Business.String())
		if err != nil {
			return err
		}
		if owner != p.UserID.String() {
			return domain.Errorf(domain.CodeForbidden, "you do not act for this business")
		}
		return nil
	}
}

func (h *ordersAPI) daily(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "business")
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, orders.Name); err != nil {
		return err
	}
	owner, err := h.ownerOf(c, id.String())
	if err != nil {
		return err
	}
	if owner == "" {
		return domain.Errorf(domain.CodeNotFound, "no such business")
	}
	a := p.Actor()
	if !a.ReadsEverything() && !a.ActsFor(id.String(), owner) {
		return domain.Errorf(domain.CodeForbidden, "only the business, admins and auditors read its reports")
	}
	to := h.s.deps.Now().UTC()
	from := to.AddDate(0, 0, -30)
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if raw := c.QueryParam(name); raw != "" {
			t, err := time.Parse(time.DateOnly, raw)
			if err != nil {
				return domain.Invalid(domain.FieldError{Field: name, Message: "must be a date such as 2026-03-01"})
			}
			*dst = t
		}
	}
	days, err := h.d.Orders.Daily(c.Request().Context(), id, from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"business_id": id.String(),
		"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "days": days})
}
