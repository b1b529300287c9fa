// Package catalog is the catalog read model: the businesses and products
// tables that the catalog routes serve, kept by a projection of the business
// and product streams. It holds the projection and the read queries; the
// rules for changing a catalog live in the domain package.
package catalog

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/internal/sqlfile"
	"comanda/projections"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// Name is the projection's name.
const Name = "catalog"

// Definition describes the catalog read model for the projection manager.
func Definition() projections.Definition {
	return projections.Definition{
		Name: Name,
		Tables: []projections.Table{
			{Name: "businesses", Key: []string{"id"}},
			{Name: "products", Key: []string{"id"}},
		},
		Schema:     query("schema"),
		NewHandler: func(t projections.Tables) projections.Handler { return newHandler(t) },
	}
}

type handler struct {
	businessInsert, businessUpdate, productInsert, productUpdate string
}

func newHandler(t projections.Tables) *handler {
	return &handler{
		businessInsert: t.Expand(query("business_insert")),
		businessUpdate: t.Expand(query("business_update")),
		productInsert:  t.Expand(query("product_insert")),
		productUpdate:  t.Expand(query("product_update")),
	}
}

// Handles reports that only business and product streams matter here.
func (h *handler) Handles(streamType string) bool {
	return streamType == domain.StreamBusiness || streamType == domain.StreamProduct
}

// Apply writes catalog events to the read tables; other events are ignored.
func (h *handler) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	batch := &pgx.Batch{}
	for _, e := range events {
		if e.StreamType != domain.StreamBusiness && e.StreamType != domain.StreamProduct {
			continue
		}
		de, err := domain.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			return fmt.Errorf("catalog: event %d: %w", e.Position, err)
		}
		h.queue(batch, e, de)
	}
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, batch).Close()
}

func (h *handler) queue(b *pgx.Batch, e eventstore.Event, de domain.Event) {
	at := e.Metadata.OccurredAt
	switch ev := de.(type) {
	case *domain.BusinessRegistered:
		hours, _ := json.Marshal(ev.Hours)
		b.Queue(h.businessInsert, ev.BusinessID, ev.OwnerID, ev.Name, ev.Currency,
			ev.DeliveryFee.Amount, ev.Open, ev.Timezone, hours, e.Version, e.Position, at)
	case *domain.BusinessChanged:
		var fee *int64
		if ev.DeliveryFee != nil {
			fee = &ev.DeliveryFee.Amount
		}
		var hours []byte
		if ev.Hours != nil {
			hours, _ = json.Marshal(*ev.Hours)
		}
		b.Queue(h.businessUpdate, ev.BusinessID, ev.Name, fee, ev.Open, ev.Timezone, hours,
			e.Version, e.Position, at)
	case *domain.ProductAdded:
		b.Queue(h.productInsert, ev.ProductID, ev.BusinessID, ev.Name, ev.Description, ev.Category,
			ev.Price.Amount, ev.Price.Currency, ev.Available, e.Version, e.Position, at)
	default:
		h.queueProductChange(b, e, de)
	}
}

func (h *handler) queueProductChange(b *pgx.Batch, e eventstore.Event, de domain.Event) {
	var (
		id                   string
		name, desc, category *string
		price                *int64
		available, archived  *bool
		imagePath, imageType *string
		yes, no              = true, false
	)
	switch ev := de.(type) {
	case *domain.ProductDetailsChanged:
		id, name, desc, category = ev.ProductID, ev.Name, ev.Description, ev.Category
	case *domain.ProductPriceChanged:
		id, price = ev.ProductID, &ev.To.Amount
	case *domain.ProductAvailabilityChanged:
		id, available = ev.ProductID, &ev.Available
	case *domain.ProductImageSet:
		id, imagePath, imageType = ev.ProductID, &ev.Path, &ev.ContentType
	case *domain.ProductArchived:
		id, archived, available = ev.ProductID, &yes, &no
	default:
		return
	}
	b.Queue(h.productUpdate, id, name, desc, category, price, available, archived, imagePath,
		imageType, e.Version, e.Position, e.Metadata.OccurredAt)
}
