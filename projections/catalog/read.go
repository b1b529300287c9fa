package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"comanda/domain"
)

// Business is a row of the businesses read table.
type Business struct {
	ID          uuid.UUID             `json:"id"`
	OwnerID     uuid.UUID             `json:"owner_id"`
	Name        string                `json:"name"`
	Currency    domain.Currency       `json:"currency"`
	DeliveryFee domain.Money          `json:"delivery_fee"`
	Open        bool                  `json:"open"`
	Timezone    string                `json:"timezone"`
	Hours       []domain.OpeningHours `json:"hours"`
	Version     int64                 `json:"version"`
	Position    int64                 `json:"position"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
}

// Product is a row of the products read table.
type Product struct {
	ID          uuid.UUID    `json:"id"`
	BusinessID  uuid.UUID    `json:"business_id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Category    string       `json:"category"`
	Price       domain.Money `json:"price"`
	Available   bool         `json:"available"`
	Archived    bool         `json:"archived"`
	ImageURL    *string      `json:"image_url"`
	ImagePath   string       `json:"-"`
	ImageType   string       `json:"-"`
	Version     int64        `json:"version"`
	Position    int64        `json:"position"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// Reader answers catalog queries from the read tables.
type Reader struct{ pool *pgxpool.Pool }

// NewReader returns a Reader on pool.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// ErrNotFound is returned when a business or product does not exist.
var ErrNotFound = errors.New("catalog: not found")

func scanBusiness(row pgx.Row) (Business, error) {
	var (
		b     Business
		hours []byte
	)
	err := row.Scan(&b.ID, &b.OwnerID, &b.Name, &b.Currency, &b.DeliveryFee.Amount, &b.Open,
		&b.Timezone, &hours, &b.Version, &b.Position, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return Business{}, err
	}
	b.DeliveryFee.Currency = b.Currency
	b.Hours = []domain.OpeningHours{}
	if err := json.Unmarshal(hours, &b.Hours); err != nil {
		return Business{}, fmt.Errorf("decode hours of business %s: %w", b.ID, err)
	}
	return b, nil
}

func scanProduct(row pgx.Row) (Product, error) {
	var (
		p          Product
		path, kind *string
	)
	err := row.Scan(&p.ID, &p.BusinessID, &p.Name, &p.Description, &p.Category, &p.Price.Amount,
		&p.Price.Currency, &p.Available, &p.Archived, &path, &kind, &p.Version, &p.Position,
		&p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return Product{}, err
	}
	if path != nil {
		p.ImagePath = *path
		url := "/v1/products/" + p.ID.String() + "/image"
		p.ImageURL = &url
	}
	if kind != nil {
		p.ImageType = *kind
	}
	return p, nil
}

// Business returns one business.
func (r *Reader) Business(ctx context.Context, id uuid.UUID) (Business, error) {
	b, err := scanBusiness(r.pool.QueryRow(ctx, query("business_get"), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Business{}, ErrNotFound
	}
	return b, err
}

// Page bounds a list: at most Limit rows after the row (At, ID).
type Page struct {
	Limit int
	At    *time.Time
	ID    uuid.UUID
}

// Businesses lists businesses newest first; owner filters when not nil.
func (r *Reader) Businesses(ctx context.Context, page Page, owner *uuid.UUID) ([]Business, error) {
	rows, err := r.pool.Query(ctx, query("business_list"), page.At, page.ID, page.Limit, owner)
	if err != nil {
		return nil, fmt.Errorf("list businesses: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Business, error) {
		return scanBusiness(row)
	})
}

// Product returns one product, archived or not.
func (r *Reader) Product(ctx context.Context, id uuid.UUID) (Product, error) {
	p, err := scanProduct(r.pool.QueryRow(ctx, query("product_get"), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, ErrNotFound
	}
	return p, err
}

// ProductFilter narrows a product list.
type ProductFilter struct {
	Category  *string
	Available *bool
}

// Products lists a business's products that are not archived.
func (r *Reader) Products(ctx context.Context, business uuid.UUID, f ProductFilter, page Page) ([]Product, error) {
	rows, err := r.pool.Query(ctx, query("product_list"), business, page.At, page.ID, f.Category,
		f.Available, page.Limit)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Product, error) {
		return scanProduct(row)
	})
}

// ItemsForOrder returns the products with the given ids as an order prices
// them, keyed by id; unknown ids are left out.
func (r *Reader) ItemsForOrder(ctx context.Context, ids []string) (map[string]domain.CatalogItem, error) {
	rows, err := r.pool.Query(ctx, query("products_for_order"), ids)
	if err != nil {
		return nil, fmt.Errorf("read products for order: %w", err)
	}
	defer rows.Close()
	out := map[string]domain.CatalogItem{}
	for rows.Next() {
		var (
			it        domain.CatalogItem
			id, bizID uuid.UUID
		)
		if err := rows.Scan(&id, &bizID, &it.Name, &it.Price.Amount, &it.Price.Currency, &it.Available); err != nil {
			return nil, err
		}
		it.ID, it.BusinessID = id.String(), bizID.String()
		out[it.ID] = it
	}
	return out, rows.Err()
}

// ForOrder reads a business and the products an order names in one round
// trip. A missing business returns ErrNotFound with the products still read.
func (r *Reader) ForOrder(ctx context.Context, business uuid.UUID, ids []string) (
	Business, map[string]domain.CatalogItem, error) {
	batch := &pgx.Batch{}
	var (
		b     Business
		bErr  error
		items = map[string]domain.CatalogItem{}
		itErr error
	)
	batch.Queue(query("business_get"), business).QueryRow(func(row pgx.Row) error {
		b, bErr = scanBusiness(row)
		return nil
	})
	if len(ids) > 0 {
		batch.Queue(query("products_for_order"), ids).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					it        domain.CatalogItem
					id, bizID uuid.UUID
				)
				if err := rows.Scan(&id, &bizID, &it.Name, &it.Price.Amount, &it.Price.Currency,
					&it.Available); err != nil {
					itErr = err
					return nil
				}
				it.ID, it.BusinessID = id.String(), bizID.String()
				items[it.ID] = it
			}
			itErr = rows.Err()
			return nil
		})
	}
	if err := r.pool.SendBatch(ctx, batch).Close(); err != nil {
		return Business{}, nil, fmt.Errorf("read catalog for order: %w", err)
	}
	if itErr != nil {
		return Business{}, nil, fmt.Errorf("read products for order: %w", itErr)
	}
	if errors.Is(bErr, pgx.ErrNoRows) {
		return Business{}, items, ErrNotFound
	}
	return b, items, bErr
}
