package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/projections/catalog"
)

type productBody struct {
	Name        *string       `json:"name"`
	Description *string       `json:"description"`
	Category    *string       `json:"category"`
	Price       *domain.Money `json:"price"`
	Available   *bool         `json:"available"`
}

func (b productBody) input() domain.ProductInput {
	return domain.ProductInput{Name: b.Name, Description: b.Description, Category: b.Category,
		Price: b.Price, Available: b.Available}
}

type productView struct {
	ID          string       `json:"id"`
	BusinessID  string       `json:"business_id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Category    string       `json:"category"`
	Price       domain.Money `json:"price"`
	Available   bool         `json:"available"`
	Archived    bool         `json:"archived"`
	ImageURL    *string      `json:"image_url"`
	Version     int64        `json:"version"`
	Position    int64        `json:"position"`
}

func viewOfProduct(p *domain.Product, position int64) productView {
	v := productView{ID: p.ID, BusinessID: p.BusinessID, Name: p.Name, Description: p.Description,
		Category: p.Category, Price: p.Price, Available: p.Available, Archived: p.Archived,
		Version: p.Version, Position: position}
	if p.ImagePath != "" {
		url := "/v1/products/" + p.ID + "/image"
		v.ImageURL = &url
	}
	return v
}

func etag(v int64) string { return fmt.Sprintf(`"%d"`, v) }

func (h *catalogAPI) addProduct(c echo.Context) (err error) {
	defer func() { h.s.cmds.observe("add_product", err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	bizID, err := pathID(c, "id", "business")
	if err != nil {
		return err
	}
	var body productBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	b, err := h.loadBusiness(c.Request().Context(), bizID)
	if err != nil {
		return err
	}
	id := h.s.deps.NewID().String()
	ev, err := b.AddProduct(id, p.Actor(), body.input())
	if err != nil {
		return err
	}
	res, err := h.s.commit(c, eventstore.Stream{Type: domain.StreamProduct, ID: id}, eventstore.NoStream, ev)
	if err != nil {
		return err
	}
	var prod domain.Product
	prod.Apply(ev)
	setWritten(c, res.Version, res.Position)
	c.Response().Header().Set("Location", "/v1/products/"+id)
	return c.JSON(http.StatusCreated, viewOfProduct(&prod, res.Position))
}

// loadProduct folds a product and its business from the event store.
func (h *catalogAPI) loadProduct(ctx context.Context, id uuid.UUID) (*domain.Product, *domain.Business, error) {
	var p domain.Product
	v, err := h.s.load(ctx, id.String(), &p)
	if err != nil {
		return nil, nil, err
	}
	if v == 0 {
		return nil, nil, domain.Errorf(domain.CodeNotFound, "no such product")
	}
	b, err := h.loadBusiness(ctx, uuid.MustParse(p.BusinessID))
	if err != nil {
		return nil, nil, err
	}
	return &p, b, nil
}

// productCommand runs a command on one product and answers with its state.
func (h *catalogAPI) productCommand(c echo.Context, name string,
	decide func(p *domain.Product, b *domain.Business, actor domain.Actor) ([]domain.Event, error)) (err error) {
	defer func() { h.s.cmds.observe(name, err) }()
	pr, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "product")
	if err != nil {
		return err
	}
	p, b, err := h.loadProduct(c.Request().Context(), id)
	if err != nil {
		return err
	}
	expected, err := expectedFrom(c, p.Version)
	if err != nil {
		return err
	}
	events, err := decide(p, b, pr.Actor())
	if err != nil {
		return err
	}
	position := int64(0)
	if len(events) > 0 {
		res, err := h.s.commit(c, eventstore.Stream{Type: domain.StreamProduct, ID: p.ID}, expected, events...)
		if err != nil {
			return err
		}
		for _, e := range events {
			p.Apply(e)
		}
		position = res.Position
	}
	setWritten(c, p.Version, position)
	return c.JSON(http.StatusOK, viewOfProduct(p, position))
}

func (h *catalogAPI) changeProduct(c echo.Context) error {
	var body productBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	return h.productCommand(c, "change_product",
		func(p *domain.Product, b *domain.Business, a domain.Actor) ([]domain.Event, error) {
			return p.Change(b, a, body.input())
		})
}

func (h *catalogAPI) archiveProduct(c echo.Context) error {
	return h.productCommand(c, "archive_product",
		func(p *domain.Product, b *domain.Business, a domain.Actor) ([]domain.Event, error) {
			ev, err := p.Archive(b, a)
			if err != nil {
				return nil, err
			}
			return []domain.Event{ev}, nil
		})
}

func (h *catalogAPI) listProducts(c echo.Context) error {
	bizID, err := pathID(c, "id", "business")
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, catalog.Name); err != nil {
		return err
	}
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	var f catalog.ProductFilter
	if cat := c.QueryParam("category"); cat != "" {
		f.Category = &cat
	}
	if f.Available, err = queryBool(c, "available"); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.d.Reader.Business(ctx, bizID); errors.Is(err, catalog.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "no such business")
	} else if err != nil {
		return err
	}
	page := catalog.Page{Limit: limit}
	if cur != nil {
		page.At, page.ID = &cur.At, cur.ID
	}
	items, err := h.d.Reader.Products(ctx, bizID, f, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(p catalog.Product) pageCursor {
		return pageCursor{At: p.CreatedAt, ID: p.ID}
	}))
}

func (h *catalogAPI) getProduct(c echo.Context) error {
	id, err := pathID(c, "id", "product")
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, catalog.Name); err != nil {
		return err
	}
	p, err := h.d.Reader.Product(c.Request().Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "no such product")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(http.StatusOK, p)
}

func (h *catalogAPI) productHistory(c echo.Context) error {
	id, err := pathID(c, "id", "product")
	if err != nil {
		return err
	}
	events, err := h.s.deps.Store.ReadStream(c.Request().Context(), id.String(), 1)
	if err != nil {
		return err
	}
	if len(events) == 0 || events[0].StreamType != domain.StreamProduct {
		return domain.Errorf(domain.CodeNotFound, "no such product")
	}
	return c.JSON(http.StatusOK, map[string]any{"items": historyOf(events)})
}

// historyEntry is one event of a stream as auditors read it.
type historyEntry struct {
	Position   int64          `json:"position"`
	Version    int64          `json:"version"`
	Type       string         `json:"type"`
	OccurredAt string         `json:"occurred_at"`
	RecordedAt string         `json:"recorded_at"`
	Actor      string         `json:"actor"`
	Data       map[string]any `json:"data"`
}

func historyOf(events []eventstore.Event) []historyEntry {
	out := make([]historyEntry, 0, len(events))
	for _, e := range events {
		var data map[string]any
		_ = jsonUnmarshal(e.Payload, &data)
		out = append(out, historyEntry{Position: e.Position, Version: e.Version, Type: e.Type,
			OccurredAt: e.Metadata.OccurredAt.UTC().Format(timeFormat),
			RecordedAt: e.RecordedAt.UTC().Format(timeFormat), Actor: e.Metadata.Actor, Data: data})
	}
	return out
}
