package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"comanda/accounts"
	"comanda/domain"
	"comanda/eventstore"
	"comanda/httpapi"
	"comanda/internal/apitest"
	"comanda/internal/testkit"
	"comanda/projections"
	"comanda/projections/catalog"
	"comanda/projections/orders"
)

// harnessSecret signs the access tokens of the whole-API tests.
var harnessSecret = []byte("the-whole-api-test-secret-32-bytes")

const harnessPassword = "a long test password"

// harnessImageBytes is the largest product image the test server accepts.
const harnessImageBytes = 64 << 10

// testAPI is the whole engine API on a fresh database: the auth, catalog,
// orders and admin modules, mounted behind Authenticate as the engine mounts
// them, with both read models kept by a projection manager.
type testAPI struct {
	// api sends anonymous requests; users have their own clients.
	api      *apitest.Client
	pool     *pgxpool.Pool
	store    *eventstore.Store
	accounts *accounts.Store
	manager  *projections.Manager
	registry *projections.Registry
	// images is the uploads directory.
	images string
	seq    atomic.Int64
}

// testAPIOptions changes how newTestAPIWith builds the server.
type testAPIOptions struct {
	// stopped leaves the projectors idle, so read models never catch up.
	stopped bool
	// readWait bounds how long a read waits for X-Min-Position; 5s if zero.
	readWait time.Duration
	// catchUpBatch is the projectors' batch size; the default when zero.
	catchUpBatch int
	// now is the server's clock; time.Now when nil.
	now func() time.Time
}

// newTestAPI returns a running API on a fresh database.
func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	return newTestAPIWith(t, testAPIOptions{})
}

func newTestAPIWith(t *testing.T, o testAPIOptions) *testAPI {
	t.Helper()
	if o.readWait == 0 {
		o.readWait = 5 * time.Second
	}
	pool, _ := testkit.NewDatabase(t)
	quiet := slog.New(slog.DiscardHandler)
	h := &testAPI{pool: pool, store: eventstore.New(pool), registry: projections.NewRegistry(),
		images: t.TempDir()}
	h.manager = projections.NewManager(h.store, h.registry, projections.Config{
		PollInterval: 10 * time.Millisecond, CatchUpBatch: o.catchUpBatch, Logger: quiet,
	})
	h.manager.Register(catalog.Definition())
	h.manager.Register(orders.Definition())
	require.NoError(t, h.manager.Start(t.Context()))
	if !o.stopped {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.manager.Run(ctx)
		}()
		t.Cleanup(func() {
			h.drain()
			cancel()
			<-done
		})
	}

	h.accounts = accounts.New(pool, accounts.Config{
		Secret:       harnessSecret,
		PasswordCost: accounts.PasswordCost{Memory: 1024, Time: 1, Threads: 1},
	})
	catalogReader := catalog.NewReader(pool)
	reg := prometheus.NewRegistry()
	server := httpapi.New(httpapi.Config{ReadWait: o.readWait}, httpapi.Deps{
		Pool: pool, Store: h.store, Projections: h.registry, Metrics: reg, Gatherer: reg,
		Logger: quiet, Now: o.now,
	},
		func(_ *httpapi.Server, api *echo.Group) { api.Use(httpapi.Authenticate(harnessSecret)) },
		httpapi.AuthModule(httpapi.AuthDeps{
			Accounts: h.accounts,
			Limiter:  accounts.NewMemoryLimiter(1<<20, time.Minute, time.Now),
			BusinessOwner: func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
				b, err := catalogReader.Business(ctx, id)
				if err != nil {
					return uuid.Nil, domain.Errorf(domain.CodeNotFound, "no such business")
				}
				return b.OwnerID, nil
			},
		}),
		httpapi.CatalogModule(httpapi.CatalogDeps{
			Reader: catalogReader,
			Images: &httpapi.ImageStore{Dir: h.images, MaxBytes: harnessImageBytes},
		}),
		httpapi.OrdersModule(httpapi.OrdersDeps{Catalog: catalogReader, Orders: orders.NewReader(pool)}),
		httpapi.AdminModule(httpapi.AdminDeps{Manager: h.manager}),
	)
	h.api = apitest.New(t, server.Handler())
	return h
}

// drain waits, for a few seconds at most, until every projector has applied
// the whole log, so the tests end with read models that match the log.
func (h *testAPI) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	head, err := h.store.Head(ctx)
	if err != nil {
		return
	}
	for _, name := range h.registry.Names() {
		if p, ok := h.registry.Get(name); ok {
			_ = p.WaitFor(ctx, head, 5*time.Second)
		}
	}
}

// testUser is a signed-in account with a client that sends its token.
type testUser struct {
	*apitest.Client
	ID    uuid.UUID
	Role  domain.Role
	Token string
}

func (h *testAPI) email(role domain.Role) string {
	return fmt.Sprintf("%s-%d@example.com", role, h.seq.Add(1))
}

// signIn logs email in through the API.
func (h *testAPI) signIn(t *testing.T, email string) *testUser {
	t.Helper()
	resp := h.api.Do(http.MethodPost, "/v1/auth/login",
		map[string]any{"email": email, "password": harnessPassword})
	require.Equal(t, http.StatusOK, resp.Status, "login: %s", resp.Body)
	token, _ := resp.Map(t)["access_token"].(string)
	require.NotEmpty(t, token)
	me := h.api.As(token).Do(http.MethodGet, "/v1/me", nil)
	require.Equal(t, http.StatusOK, me.Status, "me: %s", me.Body)
	var acc struct {
		ID   uuid.UUID   `json:"id"`
		Role domain.Role `json:"role"`
	}
	me.JSON(t, &acc)
	return &testUser{Client: h.api.As(token), ID: acc.ID, Role: acc.Role, Token: token}
}

// register signs up a customer or business owner and signs them in.
func (h *testAPI) register(t *testing.T, role domain.Role) *testUser {
	t.Helper()
	email := h.email(role)
	resp := h.api.Do(http.MethodPost, "/v1/auth/register", map[string]any{
		"email": email, "password": harnessPassword, "name": "Test " + string(role), "role": role})
	require.Equal(t, http.StatusCreated, resp.Status, "register: %s", resp.Body)
	return h.signIn(t, email)
}

func (h *testAPI) customer(t *testing.T) *testUser {
	t.Helper()
	return h.register(t, domain.RoleCustomer)
}

func (h *testAPI) owner(t *testing.T) *testUser {
	t.Helper()
	return h.register(t, domain.RoleBusinessOwner)
}

// admin creates an admin straight in the accounts store, the way the first
// admin of an installation is made, and signs them in.
func (h *testAPI) admin(t *testing.T) *testUser {
	t.Helper()
	email := h.email(domain.RoleAdmin)
	_, err := h.accounts.CreateUser(t.Context(), email, harnessPassword, "Root", domain.RoleAdmin)
	require.NoError(t, err)
	return h.signIn(t, email)
}

// auditor has an admin create an auditor through the API.
func (h *testAPI) auditor(t *testing.T) *testUser {
	t.Helper()
	email := h.email(domain.RoleAuditor)
	resp := h.admin(t).Do(http.MethodPost, "/v1/admin/users", map[string]any{
		"email": email, "password": harnessPassword, "name": "Eve", "role": "auditor"})
	require.Equal(t, http.StatusCreated, resp.Status, "create auditor: %s", resp.Body)
	return h.signIn(t, email)
}

// staff has the business's owner add a staff account and signs it in.
func (h *testAPI) staff(t *testing.T, owner *testUser, business string) *testUser {
	t.Helper()
	email := h.email(domain.RoleStaff)
	resp := owner.Do(http.MethodPost, "/v1/businesses/"+business+"/staff", map[string]any{
		"email": email, "password": harnessPassword, "name": "Mozo"})
	require.Equal(t, http.StatusCreated, resp.Status, "create staff: %s", resp.Body)
	return h.signIn(t, email)
}

// await waits until both read models have applied position.
func (h *testAPI) await(t *testing.T, position int64) {
	t.Helper()
	for _, name := range []string{catalog.Name, orders.Name} {
		p, ok := h.registry.Get(name)
		require.True(t, ok, name)
		require.NoError(t, p.WaitFor(t.Context(), position, 10*time.Second), name)
	}
}

// head returns the position of the newest event.
func (h *testAPI) head(t *testing.T) int64 {
	t.Helper()
	head, err := h.store.Head(t.Context())
	require.NoError(t, err)
	return head
}

// eventCount returns how many events the log holds.
func (h *testAPI) eventCount(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, h.pool.QueryRow(t.Context(), "SELECT count(*) FROM events").Scan(&n))
	return n
}

// business registers a business for owner, merging fields over an ARS
// business with a delivery fee of 500, and waits until it can be read.
func (h *testAPI) business(t *testing.T, owner *testUser, fields map[string]any) businessJSON {
	t.Helper()
	body := map[string]any{"name": "La Esquina", "currency": "ARS",
		"delivery_fee": map[string]any{"amount": 500, "currency": "ARS"}}
	for k, v := range fields {
		body[k] = v
	}
	resp := owner.Do(http.MethodPost, "/v1/businesses", body)
	require.Equal(t, http.StatusCreated, resp.Status, "create business: %s", resp.Body)
	var b businessJSON
	resp.JSON(t, &b)
	h.await(t, b.Position)
	return b
}

// product adds a product to a business, merging fields over an available
// product priced 1000 ARS, and waits until it can be read.
func (h *testAPI) product(t *testing.T, by *testUser, business string, fields map[string]any) productJSON {
	t.Helper()
	body := map[string]any{"name": "Empanada", "category": "comida",
		"price": map[string]any{"amount": 1000, "currency": "ARS"}}
	for k, v := range fields {
		body[k] = v
	}
	resp := by.Do(http.MethodPost, "/v1/businesses/"+business+"/products", body)
	require.Equal(t, http.StatusCreated, resp.Status, "add product: %s", resp.Body)
	var p productJSON
	resp.JSON(t, &p)
	h.await(t, p.Position)
	return p
}

// order places an order and returns it; the read model may still lag.
func (h *testAPI) order(t *testing.T, customer *testUser, body map[string]any) orderJSON {
	t.Helper()
	resp := customer.Do(http.MethodPost, "/v1/orders", body)
	require.Equal(t, http.StatusCreated, resp.Status, "place order: %s", resp.Body)
	var o orderJSON
	resp.JSON(t, &o)
	return o
}

// moveOrder transitions an order and requires it to succeed.
func moveOrder(t *testing.T, by *testUser, order string, to domain.Status) orderJSON {
	t.Helper()
	resp := by.Do(http.MethodPost, "/v1/orders/"+order+"/transitions", map[string]any{"to": to})
	require.Equal(t, http.StatusOK, resp.Status, "move %s to %s: %s", order, to, resp.Body)
	var o orderJSON
	resp.JSON(t, &o)
	require.Equal(t, to, o.Status)
	return o
}

// pickupOrder is the body of a cash pickup order of quantity units of product.
func pickupOrder(business, product string, quantity int) map[string]any {
	return map[string]any{"business_id": business, "fulfillment": "pickup",
		"payment_method": "cash",
		"lines":          []map[string]any{{"product_id": product, "quantity": quantity}}}
}

// deliveryOrder is the body of a delivery order of quantity units of product.
func deliveryOrder(business, product string, quantity int, payment string) map[string]any {
	return map[string]any{"business_id": business, "fulfillment": "delivery",
		"payment_method": payment,
		"address":        map[string]any{"street": "Av. Corrientes 1234", "city": "CABA"},
		"lines":          []map[string]any{{"product_id": product, "quantity": quantity}}}
}

type businessJSON struct {
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

type productJSON struct {
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

// orderJSON holds both shapes of an order: the read model's and a
// command's.
type orderJSON struct {
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
	CreatedAt          time.Time        `json:"created_at"`
}

type listJSON[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

type historyJSON struct {
	Position   int64          `json:"position"`
	Version    int64          `json:"version"`
	Type       string         `json:"type"`
	OccurredAt time.Time      `json:"occurred_at"`
	Actor      string         `json:"actor"`
	Data       map[string]any `json:"data"`
}

// requireProblem checks that resp is a problem document with status and code.
func requireProblem(t *testing.T, resp *apitest.Response, status int, code domain.Code) {
	t.Helper()
	require.Equal(t, status, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	require.Equal(t, string(code), resp.Code(t), "body: %s", resp.Body)
}

// problemFields returns the fields a validation problem lists.
func problemFields(t *testing.T, resp *apitest.Response) []string {
	t.Helper()
	var p httpapi.Problem
	resp.JSON(t, &p)
	fields := []string{}
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	return fields
}

// xPosition returns the X-Position header of a command's answer.
func xPosition(t *testing.T, resp *apitest.Response) int64 {
	t.Helper()
	p, err := strconv.ParseInt(resp.Header.Get("X-Position"), 10, 64)
	require.NoError(t, err, "X-Position: %q", resp.Header.Get("X-Position"))
	return p
}

// minPos is the header that makes a read wait for position.
func minPos(position int64) []string {
	return []string{"X-Min-Position", strconv.FormatInt(position, 10)}
}
