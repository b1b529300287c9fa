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
)

// CatalogDeps are what the catalog routes need besides the server's parts.
type CatalogDeps struct {
	Reader *catalog.Reader
	Images *ImageStore
}

type catalogAPI struct {
	s *Server
	d CatalogDeps
}

// CatalogModule serves businesses and products: commands append to their
// streams, reads come from the catalog read model.
func CatalogModule(d CatalogDeps) Module {
	return func(s *Server, api *echo.Group) {
		h := &catalogAPI{s: s, d: d}
		api.POST("/businesses", h.createBusiness, s.Idempotent)
		api.GET("/businesses", h.listBusinesses)
		api.GET("/businesses/:id", h.getBusiness)
		api.PATCH("/businesses/:id", h.changeBusiness, s.Idempotent)
		api.POST("/businesses/:id/products", h.addProduct, s.Idempotent)
		api.GET("/businesses/:id/products", h.listProducts)
		api.GET("/products/:id", h.getProduct)
		api.GET("/products/:id/history", h.productHistory)
		api.PATCH("/products/:id", h.changeProduct, s.Idempotent)
		api.DELETE("/products/:id", h.archiveProduct)
		api.PUT("/products/:id/image", h.putImage)
		api.GET("/products/:id/image", h.getImage)
	}
}

type businessBody struct {
	Name        *string                `json:"name"`
	Currency    *domain.Currency       `json:"currency"`
	DeliveryFee *domain.Money          `json:"delivery_fee"`
	Open        *bool                  `json:"open"`
	Timezone    *string                `json:"timezone"`
	Hours       *[]domain.OpeningHours `json:"hours"`
}

func (b businessBody) input() domain.BusinessInput {
	return domain.BusinessInput{Name: b.Name, Currency: b.Currency, DeliveryFee: b.DeliveryFee,
		Open: b.Open, Timezone: b.Timezone, Hours: b.Hours}
}

func knownZone(name string) bool {
	_, err := time.LoadLocation(name)
	return err == nil && name != ""
}

type businessView struct {
	ID          string                `json:"id"`
	OwnerID     string                `json:"owner_id"`
	Name        string                `json:"name"`
	Currency    domain.Currency       `json:"currency"`
	DeliveryFee domain.Money          `json:"delivery_fee"`
	Open        bool                  `json:"open"`
	Timezone    string                `json:"timezone"`
	Hours       []domain.OpeningHours `json:"hours"`
	Version     int64                 `json:"version"`
	Position    int64                 `json:"position"`
}

func viewOfBusiness(b *domain.Business, position int64) businessView {
	hours := b.Hours
	if hours == nil {
		hours = []domain.OpeningHours{}
	}
	return businessView{ID: b.ID, OwnerID: b.OwnerID, Name: b.Name, Currency: b.Currency,
		DeliveryFee: b.DeliveryFee, Open: b.Open, Timezone: b.Timezone, Hours: hours,
		Version: b.Version, Position: position}
}

func (h *catalogAPI) createBusiness(c echo.Context) (err error) {
	defer func() { h.s.cmds.observe("register_business", err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	var body businessBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	id := h.s.deps.NewID().String()
	ev, err := domain.RegisterBusiness(id, p.Actor(), body.input(), knownZone)
	if err != nil {
		return err
	}
	res, err := h.s.commit(c, eventstore.Stream{Type: domain.StreamBusiness, ID: id}, eventstore.NoStream, ev)
	if err != nil {
		return err
	}
	var b domain.Business
	b.Apply(ev)
	setWritten(c, res.Version, res.Position)
	c.Response().Header().Set("Location", "/v1/businesses/"+id)
	return c.JSON(http.StatusCreated, viewOfBusiness(&b, res.Position))
}

func (h *catalogAPI) loadBusiness(ctx context.Context, id uuid.UUID) (*domain.Business, error) {
	var b domain.Business
	v, err := h.s.load(ctx, id.String(), &b)
	if err != nil {
		return nil, err
	}
	if v == 0 {
		return nil, domain.Errorf(domain.CodeNotFound, "no such business")
	}
	return &b, nil
}

func (h *catalogAPI) changeBusiness(c echo.Context) (err error) {
	defer func() { h.s.cmds.observe("change_business", err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "business")
	if err != nil {
		return err
	}
	var body businessBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	b, err := h.loadBusiness(c.Request().Context(), id)
	if err != nil {
		return err
	}
	expected, err := expectedFrom(c, b.Version)
	if err != nil {
		return err
	}
	ev, err := b.Change(p.Actor(), body.input(), knownZone)
	if err != nil {
		return err
	}
	position := int64(0)
	if ev != nil {
		res, err := h.s.commit(c, eventstore.Stream{Type: domain.StreamBusiness, ID: b.ID}, expected, ev)
		if err != nil {
			return err
		}
		b.Apply(ev)
		position = res.Position
	}
	setWritten(c, b.Version, position)
	return c.JSON(http.StatusOK, viewOfBusiness(b, position))
}

func (h *catalogAPI) listBusinesses(c echo.Context) error {
	if err := h.s.awaitProjection(c, catalog.Name); err != nil {
		return err
	}
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	page := catalog.Page{Limit: limit}
	if cur != nil {
		page.At, page.ID = &cur.At, cur.ID
	}
	var owner *uuid.UUID
	if raw := c.QueryParam("owner_id"); raw != "" {
		id, err := uuid.Parse(raw)
		if err != nil {
			return domain.Invalid(domain.FieldError{Field: "owner_id", Message: "must be a UUID"})
		}
		owner = &id
	}
	items, err := h.d.Reader.Businesses(c.Request().Context(), page, owner)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(b catalog.Business) pageCursor {
		return pageCursor{At: b.CreatedAt, ID: b.ID}
	}))
}

func (h *catalogAPI) getBusiness(c echo.Context) error {
	id, err := pathID(c, "id", "business")
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, catalog.Name); err != nil {
		return err
	}
	b, err := h.d.Reader.Business(c.Request().Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "no such business")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(b.Version))
	return c.JSON(http.StatusOK, b)
}
