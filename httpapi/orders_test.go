package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/internal/apitest"
)

// orderCast is a business with a product and everyone who may touch its
// orders, or may not.
type orderCast struct {
	owner, staff, customer, stranger, rival, admin, auditor *testUser
	business                                                businessJSON
	product                                                 productJSON
}

func newOrderCast(t *testing.T, h *testAPI) orderCast {
	t.Helper()
	c := orderCast{owner: h.owner(t), customer: h.customer(t), stranger: h.customer(t),
		rival: h.owner(t), admin: h.admin(t), auditor: h.auditor(t)}
	c.business = h.business(t, c.owner, nil)
	c.staff = h.staff(t, c.owner, c.business.ID)
	c.product = h.product(t, c.owner, c.business.ID, nil)
	return c
}

func TestCreateOrder_EachInvalidInputIsNamed(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	closed := h.business(t, c.owner, map[string]any{"open": false})
	closedProduct := h.product(t, c.owner, closed.ID, nil)
	other := h.business(t, c.rival, nil)
	foreign := h.product(t, c.rival, other.ID, nil)
	unavailable := h.product(t, c.owner, c.business.ID, map[string]any{"available": false})
	archived := h.product(t, c.owner, c.business.ID, nil)
	gone := c.owner.Do(http.MethodDelete, "/v1/products/"+archived.ID, nil)
	h.await(t, xPosition(t, gone))
	biz, prod := c.business.ID, c.product.ID

	with := func(body map[string]any, key string, value any) map[string]any {
		body[key] = value
		return body
	}
	cases := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"business missing", pickupOrder(uuid.NewString(), prod, 1), []string{"business_id"}},
		{"business id not a UUID", pickupOrder("la-esquina", prod, 1), []string{"business_id"}},
		{"business closed", pickupOrder(closed.ID, closedProduct.ID, 1), []string{"business_id"}},
		{"product missing", pickupOrder(biz, uuid.NewString(), 1), []string{"lines[0].product_id"}},
		{"product id not a UUID", pickupOrder(biz, "empanada", 1), []string{"lines[0].product_id"}},
		{"product of another business", pickupOrder(biz, foreign.ID, 1),
			[]string{"lines[0].product_id"}},
		{"product unavailable", pickupOrder(biz, unavailable.ID, 1), []string{"lines[0].product_id"}},
		{"product archived", pickupOrder(biz, archived.ID, 1), []string{"lines[0].product_id"}},
		{"quantity zero", pickupOrder(biz, prod, 0), []string{"lines[0].quantity"}},
		{"quantity negative", pickupOrder(biz, prod, -3), []string{"lines[0].quantity"}},
		{"quantity too big", pickupOrder(biz, prod, 1000), []string{"lines[0].quantity"}},
		{"no lines", with(pickupOrder(biz, prod, 1), "lines", []any{}), []string{"lines"}},
		{"delivery without address", with(deliveryOrder(biz, prod, 1, "cash"), "address", nil),
			[]string{"address"}},
		{"delivery address without street", with(deliveryOrder(biz, prod, 1, "cash"), "address",
			map[string]any{"street": " ", "city": "CABA"}), []string{"address.street"}},
		{"unknown fulfillment", with(pickupOrder(biz, prod, 1), "fulfillment", "drone"),
			[]string{"fulfillment"}},
		{"unknown payment method", with(pickupOrder(biz, prod, 1), "payment_method", "bitcoin"),
			[]string{"payment_method"}},
		{"second line wrong too", with(pickupOrder(biz, prod, 0), "lines", []map[string]any{
			{"product_id": prod, "quantity": 0}, {"product_id": foreign.ID, "quantity": 1}}),
			[]string{"lines[0].quantity", "lines[1].product_id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.customer.Do(http.MethodPost, "/v1/orders", tc.body)

			requireProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
			require.ElementsMatch(t, tc.fields, problemFields(t, resp))
		})
	}
	for _, u := range []*testUser{c.owner, c.staff, c.admin, c.auditor} {
		resp := u.Do(http.MethodPost, "/v1/orders", pickupOrder(biz, prod, 1))
		requireProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
	}
	requireProblem(t, h.api.Do(http.MethodPost, "/v1/orders", pickupOrder(biz, prod, 1)),
		http.StatusUnauthorized, domain.CodeUnauthorized)
}

func TestCreateOrder_OpeningHoursDecideWhetherTheBusinessTakesOrders(t *testing.T) {
	// Monday 2 March 2026, 12:00 in Buenos Aires (UTC-3).
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	h := newTestAPIWith(t, testAPIOptions{now: func() time.Time { return now }})
	owner, customer := h.owner(t), h.customer(t)
	hours := func(windows ...[3]any) map[string]any {
		list := []map[string]any{}
		for _, w := range windows {
			list = append(list, map[string]any{"weekday": w[0], "opens": w[1], "closes": w[2]})
		}
		return map[string]any{"hours": list}
	}
	cases := []struct {
		name   string
		fields map[string]any
		open   bool
	}{
		{"no hours", nil, true},
		{"inside a window", hours([3]any{1, "11:00", "15:00"}), true},
		{"before the window", hours([3]any{1, "18:00", "23:30"}), false},
		{"another day", hours([3]any{2, "11:00", "15:00"}), false},
		{"window from the night before past midnight", hours([3]any{0, "20:00", "13:00"}), true},
		{"that window closed already", hours([3]any{0, "20:00", "02:00"}), false},
		{"in another time zone", map[string]any{"timezone": "Europe/Madrid",
			"hours": []map[string]any{{"weekday": 1, "opens": "11:00", "closes": "15:00"}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			biz := h.business(t, owner, tc.fields)
			prod := h.product(t, owner, biz.ID, nil)

			resp := customer.Do(http.MethodPost, "/v1/orders", pickupOrder(biz.ID, prod.ID, 1))

			if tc.open {
				require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
				return
			}
			requireProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
			require.Equal(t, []string{"business_id"}, problemFields(t, resp))
		})
	}
}

// giveDiscount gives a discount and returns the order.
func giveDiscount(t *testing.T, by *testUser, order, kind string, value int64) orderJSON {
	t.Helper()
	resp := by.Do(http.MethodPost, "/v1/orders/"+order+"/discount",
		map[string]any{"kind": kind, "value": value})
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var o orderJSON
	resp.JSON(t, &o)
	return o
}

func TestOrderTotals_ChileanPesosHaveNoMinorUnit(t *testing.T) {
	h := newTestAPI(t)
	owner, customer := h.owner(t), h.customer(t)
	clp := func(n int64) domain.Money { return domain.Money{Amount: n, Currency: domain.CLP} }
	biz := h.business(t, owner, map[string]any{"currency": "CLP",
		"delivery_fee": map[string]any{"amount": 1500, "currency": "CLP"}})
	prod := h.product(t, owner, biz.ID, map[string]any{
		"price": map[string]any{"amount": 4990, "currency": "CLP"}})

	placed := h.order(t, customer, deliveryOrder(biz.ID, prod.ID, 3, "cash"))
	percent := giveDiscount(t, owner, placed.ID, "percent", 1250) // 1871.25
	fixed := giveDiscount(t, owner, placed.ID, "fixed", 20000)
	pickup := h.order(t, customer, pickupOrder(biz.ID, prod.ID, 1))
	half := giveDiscount(t, owner, pickup.ID, "percent", 1250) // 623.75

	require.Equal(t, clp(4990), placed.Lines[0].UnitPrice)
	require.Equal(t, clp(14970), placed.Lines[0].Total)
	require.Equal(t, []domain.Money{clp(14970), clp(1500), clp(0), clp(16470)},
		[]domain.Money{placed.Subtotal, placed.DeliveryFee, placed.Discount, placed.Total})
	require.Equal(t, []domain.Money{clp(1871), clp(14599)}, []domain.Money{percent.Discount, percent.Total})
	require.Equal(t, []domain.Money{clp(14970), clp(1500)}, []domain.Money{fixed.Discount, fixed.Total},
		"a discount never exceeds the subtotal")
	require.Equal(t, []domain.Money{clp(0), clp(624), clp(4366)},
		[]domain.Money{half.DeliveryFee, half.Discount, half.Total})
	require.Equal(t, &domain.Discount{Kind: "percent", Value: 1250}, half.DiscountRule)
}

func TestOrderTotals_ArgentinePesosRoundPercentDiscountsHalfAwayFromZero(t *testing.T) {
	h := newTestAPI(t)
	owner, customer := h.owner(t), h.customer(t)
	ars := func(n int64) domain.Money { return domain.Money{Amount: n, Currency: domain.ARS} }
	biz := h.business(t, owner, map[string]any{
		"delivery_fee": map[string]any{"amount": 250, "currency": "ARS"}})
	prod := h.product(t, owner, biz.ID, map[string]any{
		"price": map[string]any{"amount": 999, "currency": "ARS"}})

	placed := h.order(t, customer, deliveryOrder(biz.ID, prod.ID, 1, "mercadopago"))
	eighth := giveDiscount(t, owner, placed.ID, "percent", 1250) // 124.875
	half := giveDiscount(t, owner, placed.ID, "percent", 5000)   // 499.5
	fixed := giveDiscount(t, owner, placed.ID, "fixed", 300)
	read := requireOrder(t, customer.Do(http.MethodGet, "/v1/orders/"+placed.ID, nil,
		minPos(fixed.Position)...))

	require.Equal(t, []domain.Money{ars(999), ars(250), ars(0), ars(1249)},
		[]domain.Money{placed.Subtotal, placed.DeliveryFee, placed.Discount, placed.Total})
	require.Equal(t, []domain.Money{ars(125), ars(1124)}, []domain.Money{eighth.Discount, eighth.Total})
	require.Equal(t, []domain.Money{ars(500), ars(749)}, []domain.Money{half.Discount, half.Total})
	require.Equal(t, []domain.Money{ars(300), ars(949)}, []domain.Money{fixed.Discount, fixed.Total})
	require.Equal(t, []domain.Money{ars(999), ars(250), ars(300), ars(949)},
		[]domain.Money{read.Subtotal, read.DeliveryFee, read.Discount, read.Total},
		"the read model holds the same totals")
	require.Equal(t, &domain.Discount{Kind: "fixed", Value: 300}, read.DiscountRule)
}

// requireOrder requires a 200 answer and decodes the order in it.
func requireOrder(t *testing.T, resp *apitest.Response) orderJSON {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var o orderJSON
	resp.JSON(t, &o)
	return o
}

func TestDiscount_OnlyTheBusinessGivesValidDiscountsWhilePlaced(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 2))
	path := "/v1/orders/" + o.ID + "/discount"
	body := map[string]any{"kind": "fixed", "value": 100}

	requireProblem(t, c.customer.Do(http.MethodPost, path, body), http.StatusForbidden,
		domain.CodeForbidden)
	requireProblem(t, c.auditor.Do(http.MethodPost, path, body), http.StatusForbidden,
		domain.CodeForbidden)
	requireProblem(t, c.rival.Do(http.MethodPost, path, body), http.StatusNotFound,
		domain.CodeNotFound)
	for _, bad := range []map[string]any{{"kind": "gift", "value": 1}, {"kind": "percent",
		"value": 10001}, {"kind": "fixed", "value": -1}} {
		requireProblem(t, c.owner.Do(http.MethodPost, path, bad), http.StatusUnprocessableEntity,
			domain.CodeValidation)
	}
	require.Equal(t, int64(100), giveDiscount(t, c.staff, o.ID, "fixed", 100).Discount.Amount)
	moveOrder(t, c.owner, o.ID, domain.StatusConfirmed)
	requireProblem(t, c.owner.Do(http.MethodPost, path, body), http.StatusConflict,
		domain.CodeInvalidTransition)
}

// legalMove is one edge of the status machine as the API documents it.
type legalMove struct {
	from, to domain.Status
	// customer tells whether the order's customer may make the move; the
	// business (owner, staff, admin) may make every move.
	customer bool
	// only limits the move to one fulfillment.
	only string
}

var legalMoves = []legalMove{
	{domain.StatusPlaced, domain.StatusConfirmed, false, ""},
	{domain.StatusPlaced, domain.StatusCancelled, true, ""},
	{domain.StatusConfirmed, domain.StatusPreparing, false, ""},
	{domain.StatusConfirmed, domain.StatusCancelled, true, ""},
	{domain.StatusPreparing, domain.StatusReady, false, ""},
	{domain.StatusPreparing, domain.StatusCancelled, false, ""},
	{domain.StatusReady, domain.StatusOutForDelivery, false, "delivery"},
	{domain.StatusReady, domain.StatusPickedUp, false, "pickup"},
	{domain.StatusOutForDelivery, domain.StatusDelivered, false, ""},
}

var orderStatuses = []domain.Status{domain.StatusPlaced, domain.StatusConfirmed,
	domain.StatusPreparing, domain.StatusReady, domain.StatusOutForDelivery,
	domain.StatusDelivered, domain.StatusPickedUp, domain.StatusCancelled}

func findMove(from, to domain.Status, fulfillment string) (legalMove, bool) {
	for _, m := range legalMoves {
		if m.from == from && m.to == to && (m.only == "" || m.only == fulfillment) {
			return m, true
		}
	}
	return legalMove{}, false
}

// pathTo lists the moves that take a new order of a fulfillment to status,
// or false when no order of that fulfillment reaches it.
func pathTo(status domain.Status, fulfillment string) ([]domain.Status, bool) {
	if status == domain.StatusCancelled {
		return []domain.Status{domain.StatusCancelled}, true
	}
	var path []domain.Status
	for at := domain.StatusPlaced; at != status; {
		next := domain.Status("")
		for _, m := range legalMoves {
			if m.from == at && m.to != domain.StatusCancelled && (m.only == "" || m.only == fulfillment) {
				next = m.to
			}
		}
		if next == "" {
			return nil, false
		}
		path = append(path, next)
		at = next
	}
	return path, true
}

func TestTransitions_EveryMoveByEveryRoleFromEveryStatus(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	roles := []struct {
		name string
		user *testUser
		// party is "customer", "business", "reader" (sees but is no party)
		// or "" (does not even see the order).
		party string
	}{
		{"customer", c.customer, "customer"}, {"owner", c.owner, "business"},
		{"staff", c.staff, "business"}, {"admin", c.admin, "business"},
		{"auditor", c.auditor, "reader"}, {"another customer", c.stranger, ""},
		{"another owner", c.rival, ""},
	}
	newOrder := func(t *testing.T, fulfillment string, path []domain.Status) orderJSON {
		body := pickupOrder(c.business.ID, c.product.ID, 1)
		if fulfillment == "delivery" {
			body = deliveryOrder(c.business.ID, c.product.ID, 1, "cash")
		}
		o := h.order(t, c.customer, body)
		for _, s := range path {
			o = moveOrder(t, c.owner, o.ID, s)
		}
		return o
	}

	for _, fulfillment := range []string{"pickup", "delivery"} {
		for _, from := range orderStatuses {
			path, ok := pathTo(from, fulfillment)
			if !ok {
				continue
			}
			t.Run(fulfillment+" from "+string(from), func(t *testing.T) {
				shared := newOrder(t, fulfillment, path)
				for _, to := range orderStatuses {
					m, legal := findMove(from, to, fulfillment)
					for _, r := range roles {
						allowed := legal && (r.party == "business" || (r.party == "customer" && m.customer))
						o := shared
						if allowed {
							o = newOrder(t, fulfillment, path)
						}
						resp := r.user.Do(http.MethodPost, "/v1/orders/"+o.ID+"/transitions",
							map[string]any{"to": to, "reason": "prueba"})
						what := fmt.Sprintf("%s moving %s to %s", r.name, from, to)

						switch {
						case r.party == "":
							requireProblem(t, resp, http.StatusNotFound, domain.CodeNotFound)
						case r.party == "reader":
							requireProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
						case !legal:
							requireProblem(t, resp, http.StatusConflict, domain.CodeInvalidTransition)
						case !allowed:
							requireProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
						default:
							moved := requireOrder(t, resp)
							require.Equal(t, to, moved.Status, what)
							require.Equal(t, o.Version+1, moved.Version, what)
						}
					}
				}
				final := requireOrder(t, c.admin.Do(http.MethodGet, "/v1/orders/"+shared.ID+"?as_of_version=99",
					nil))
				require.Equal(t, from, final.Status, "refused moves must leave the order alone")
				require.Equal(t, shared.Version, final.Version)
			})
		}
	}
}

func TestTransitions_RefusalExplainsTheStatusAndWhatIsAllowed(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	moveOrder(t, c.owner, o.ID, domain.StatusConfirmed)

	skip := c.owner.Do(http.MethodPost, "/v1/orders/"+o.ID+"/transitions",
		map[string]any{"to": "picked_up"})
	moveOrder(t, c.customer, o.ID, domain.StatusCancelled)
	late := c.owner.Do(http.MethodPost, "/v1/orders/"+o.ID+"/transitions",
		map[string]any{"to": "confirmed"})
	unknown := c.owner.Do(http.MethodPost, "/v1/orders/"+o.ID+"/transitions",
		map[string]any{"to": "eaten"})

	requireProblem(t, skip, http.StatusConflict, domain.CodeInvalidTransition)
	require.Equal(t, map[string]any{"status": "confirmed", "allowed": []any{"cancelled", "preparing"}},
		skip.Map(t)["details"])
	requireProblem(t, late, http.StatusConflict, domain.CodeInvalidTransition)
	require.Equal(t, map[string]any{"status": "cancelled", "allowed": []any{}}, late.Map(t)["details"])
	require.Contains(t, late.Map(t)["detail"], "accepts no more changes")
	requireProblem(t, unknown, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"to"}, problemFields(t, unknown))
}

// pay records that a payment covered the order, as the payments feature does.
func (h *testAPI) pay(t *testing.T, o orderJSON) int64 {
	t.Helper()
	payload, err := json.Marshal(domain.OrderPaid{OrderID: o.ID, PaymentID: "mp-1", Amount: o.Total})
	require.NoError(t, err)
	res, err := h.store.Append(t.Context(), eventstore.Stream{Type: domain.StreamOrder, ID: o.ID},
		eventstore.Exact(o.Version), eventstore.NewEvent{Type: "OrderPaid", Payload: payload,
			Metadata: eventstore.Metadata{EventID: uuid.New(), Actor: "system:payments",
				OccurredAt: time.Now()}})
	require.NoError(t, err)
	return res.Position
}

func TestTransitions_MercadoPagoOrdersArePaidBeforePreparingCashOrdersNeedNot(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	mp := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, 1, "mercadopago"))
	cash := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, 1, "cash"))
	mp = moveOrder(t, c.owner, mp.ID, domain.StatusConfirmed)
	moveOrder(t, c.owner, cash.ID, domain.StatusConfirmed)

	unpaid := c.owner.Do(http.MethodPost, "/v1/orders/"+mp.ID+"/transitions",
		map[string]any{"to": "preparing"})
	cashPrepared := moveOrder(t, c.owner, cash.ID, domain.StatusPreparing)
	paidAt := h.pay(t, mp)
	paidPrepared := moveOrder(t, c.staff, mp.ID, domain.StatusPreparing)
	read := requireOrder(t, c.customer.Do(http.MethodGet, "/v1/orders/"+mp.ID, nil,
		minPos(paidPrepared.Position)...))

	requireProblem(t, unpaid, http.StatusConflict, domain.CodeInvalidTransition)
	details, _ := unpaid.Map(t)["details"].(map[string]any)
	require.Equal(t, false, details["paid"])
	require.False(t, cashPrepared.Paid)
	require.True(t, paidPrepared.Paid)
	require.Greater(t, paidPrepared.Position, paidAt)
	require.True(t, read.Paid)
	require.Equal(t, domain.StatusPreparing, read.Status)
}

func TestMessages_PostedByTheCustomerAndTheBusinessAndListedInOrder(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	path := "/v1/orders/" + o.ID + "/messages"
	authors := []*testUser{c.customer, c.owner, c.staff, c.admin, c.customer}
	var last int64
	for i, u := range authors {
		resp := u.Do(http.MethodPost, path, map[string]any{"text": fmt.Sprintf(" mensaje %d ", i),
			"metadata": map[string]any{"n": i}})
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		last = xPosition(t, resp)
	}

	pagesOf := func(u *testUser) []orderMessage {
		var all []orderMessage
		next := path + "?limit=2"
		for range 10 {
			resp := u.Do(http.MethodGet, next, nil, minPos(last)...)
			require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
			var page listJSON[orderMessage]
			resp.JSON(t, &page)
			all = append(all, page.Items...)
			if page.NextCursor == nil {
				return all
			}
			next = path + "?limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		t.Fatal("the message list never ended")
		return nil
	}
	got := pagesOf(c.customer)

	require.Len(t, got, len(authors))
	for i, m := range got {
		require.Equal(t, fmt.Sprintf("mensaje %d", i), m.Text)
		require.Equal(t, authors[i].ID.String(), m.AuthorID)
		require.Equal(t, string(authors[i].Role), m.AuthorRole)
		require.Equal(t, map[string]any{"n": float64(i)}, m.Metadata)
		if i > 0 {
			require.Greater(t, m.Position, got[i-1].Position)
		}
	}
	require.Equal(t, got, pagesOf(c.auditor), "auditors read the same messages")
	requireProblem(t, c.stranger.Do(http.MethodGet, path, nil), http.StatusNotFound,
		domain.CodeNotFound)
	requireProblem(t, c.stranger.Do(http.MethodPost, path, map[string]any{"text": "hola"}),
		http.StatusNotFound, domain.CodeNotFound)
	requireProblem(t, c.auditor.Do(http.MethodPost, path, map[string]any{"text": "hola"}),
		http.StatusForbidden, domain.CodeForbidden)
	empty := c.customer.Do(http.MethodPost, path, map[string]any{"text": "   "})
	requireProblem(t, empty, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"text"}, problemFields(t, empty))
}

func TestMessages_TwoAuthorsUsingTheSameIdempotencyKeyBothGetTheirMessage(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	path := "/v1/orders/" + o.ID + "/messages"

	asked := c.customer.Do(http.MethodPost, path, map[string]any{"text": "¿Falta mucho?"},
		"Idempotency-Key", "mensaje-1")
	answered := c.owner.Do(http.MethodPost, path, map[string]any{"text": "Cinco minutos"},
		"Idempotency-Key", "mensaje-1")
	require.Equal(t, http.StatusOK, asked.Status, "body: %s", asked.Body)
	require.Equal(t, http.StatusOK, answered.Status, "body: %s", answered.Body)
	list := c.customer.Do(http.MethodGet, path, nil, minPos(xPosition(t, answered))...)

	var page listJSON[orderMessage]
	list.JSON(t, &page)
	var texts []string
	for _, m := range page.Items {
		texts = append(texts, m.Text)
	}
	require.Equal(t, []string{"¿Falta mucho?", "Cinco minutos"}, texts)
}

type orderMessage struct {
	ID         string         `json:"id"`
	AuthorID   string         `json:"author_id"`
	AuthorRole string         `json:"author_role"`
	Text       string         `json:"text"`
	Metadata   map[string]any `json:"metadata"`
	Position   int64          `json:"position"`
}

func TestOrderHistory_AndPastReadsMatchTheEvents(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, 2, "cash"))
	changed := c.customer.Do(http.MethodPatch, "/v1/orders/"+o.ID,
		map[string]any{"note": "sin cebolla"})
	require.Equal(t, http.StatusOK, changed.Status, "body: %s", changed.Body)
	giveDiscount(t, c.owner, o.ID, "fixed", 100)
	moveOrder(t, c.owner, o.ID, domain.StatusConfirmed)
	c.staff.Do(http.MethodPost, "/v1/orders/"+o.ID+"/messages", map[string]any{"text": "listo"})
	moveOrder(t, c.staff, o.ID, domain.StatusPreparing)

	resp := c.customer.Do(http.MethodGet, "/v1/orders/"+o.ID+"/history", nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var history struct {
		OrderID string        `json:"order_id"`
		Items   []historyJSON `json:"items"`
	}
	resp.JSON(t, &history)

	require.Equal(t, o.ID, history.OrderID)
	var types []string
	for i, e := range history.Items {
		types = append(types, e.Type)
		require.Equal(t, int64(i+1), e.Version)
	}
	require.Equal(t, []string{"OrderPlaced", "OrderUpdated", "OrderDiscountApplied",
		"OrderStatusChanged", "OrderMessagePosted", "OrderStatusChanged"}, types)
	require.Equal(t, "customer:"+c.customer.ID.String(), history.Items[0].Actor)
	require.Equal(t, "staff:"+c.staff.ID.String(), history.Items[5].Actor)
	require.Equal(t, map[string]any{"order_id": o.ID, "from": "confirmed", "to": "preparing",
		"by_role": "staff"}, history.Items[5].Data)

	want := []struct {
		status domain.Status
		note   string
		off    int64
	}{
		{domain.StatusPlaced, "", 0}, {domain.StatusPlaced, "sin cebolla", 0},
		{domain.StatusPlaced, "sin cebolla", 100}, {domain.StatusConfirmed, "sin cebolla", 100},
		{domain.StatusConfirmed, "sin cebolla", 100}, {domain.StatusPreparing, "sin cebolla", 100},
	}
	for i, e := range history.Items {
		byVersion := requireOrder(t, c.customer.Do(http.MethodGet,
			"/v1/orders/"+o.ID+"?as_of_version="+strconv.FormatInt(e.Version, 10), nil))
		at := e.OccurredAt.Format(time.RFC3339Nano)
		byTime := requireOrder(t, c.owner.Do(http.MethodGet,
			"/v1/orders/"+o.ID+"?as_of="+url.QueryEscape(at), nil))

		for _, past := range []orderJSON{byVersion, byTime} {
			require.Equal(t, e.Version, past.Version, "event %d", i)
			require.Equal(t, e.Position, past.Position, "event %d", i)
			require.Equal(t, want[i].status, past.Status, "event %d", i)
			require.Equal(t, want[i].note, past.Note, "event %d", i)
			require.Equal(t, want[i].off, past.Discount.Amount, "event %d", i)
		}
	}
	before := history.Items[0].OccurredAt.Add(-time.Second).Format(time.RFC3339Nano)
	requireProblem(t, c.customer.Do(http.MethodGet, "/v1/orders/"+o.ID+"?as_of="+url.QueryEscape(before),
		nil), http.StatusNotFound, domain.CodeNotFound)
	requireProblem(t, c.customer.Do(http.MethodGet, "/v1/orders/"+o.ID+"?as_of_version=0", nil),
		http.StatusUnprocessableEntity, domain.CodeValidation)
	requireProblem(t, c.customer.Do(http.MethodGet, "/v1/orders/"+o.ID+"?as_of=yesterday", nil),
		http.StatusUnprocessableEntity, domain.CodeValidation)
	for _, u := range []*testUser{c.stranger, c.rival} {
		requireProblem(t, u.Do(http.MethodGet, "/v1/orders/"+o.ID+"/history", nil),
			http.StatusNotFound, domain.CodeNotFound)
		requireProblem(t, u.Do(http.MethodGet, "/v1/orders/"+o.ID+"?as_of_version=1", nil),
			http.StatusNotFound, domain.CodeNotFound)
	}
	requireProblem(t, c.customer.Do(http.MethodGet, "/v1/orders/"+uuid.NewString()+"/history", nil),
		http.StatusNotFound, domain.CodeNotFound)
}

func TestUpdateOrder_OnlyTheCustomerChangesAPlacedOrder(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	second := h.product(t, c.owner, c.business.ID, map[string]any{
		"name": "Flan", "price": map[string]any{"amount": 700, "currency": "ARS"}})
	o := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, 1, "cash"))
	path := "/v1/orders/" + o.ID

	changed := requireOrder(t, c.customer.Do(http.MethodPatch, path, map[string]any{
		"lines":   []map[string]any{{"product_id": second.ID, "quantity": 2}},
		"address": map[string]any{"street": "Florida 1", "city": "CABA"}}))
	owner := c.owner.Do(http.MethodPatch, path, map[string]any{"note": "x"})
	bad := c.customer.Do(http.MethodPatch, path, map[string]any{"lines": []any{}})
	moveOrder(t, c.owner, o.ID, domain.StatusConfirmed)
	late := c.customer.Do(http.MethodPatch, path, map[string]any{"note": "tarde"})

	require.Equal(t, domain.Money{Amount: 1400, Currency: domain.ARS}, changed.Subtotal)
	require.Equal(t, domain.Money{Amount: 1900, Currency: domain.ARS}, changed.Total)
	require.Equal(t, "Florida 1", changed.Address.Street)
	requireProblem(t, owner, http.StatusForbidden, domain.CodeForbidden)
	requireProblem(t, bad, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"lines"}, problemFields(t, bad))
	requireProblem(t, late, http.StatusConflict, domain.CodeInvalidTransition)
}

// requireLegalStream checks that an order's stream has versions 1..n and
// that every status change starts where the previous one ended and is an
// edge of the status machine; it returns the final status.
func requireLegalStream(t *testing.T, h *testAPI, order, fulfillment string) (domain.Status, int) {
	t.Helper()
	events, err := h.store.ReadStream(t.Context(), order, 1)
	require.NoError(t, err)
	require.NotEmpty(t, events)
	require.Equal(t, "OrderPlaced", events[0].Type)
	status, changes := domain.StatusPlaced, 0
	for i, e := range events {
		require.Equal(t, int64(i+1), e.Version, "the stream has a gap or a repeat")
		if e.Type != "OrderStatusChanged" {
			continue
		}
		var ch domain.OrderStatusChanged
		require.NoError(t, json.Unmarshal(e.Payload, &ch))
		require.Equal(t, status, ch.From, "version %d starts from another status", e.Version)
		_, legal := findMove(ch.From, ch.To, fulfillment)
		require.True(t, legal, "version %d moves %s to %s", e.Version, ch.From, ch.To)
		status = ch.To
		changes++
	}
	return status, changes
}

func TestTransitions_FiftyConcurrentMovesLeaveAGapFreeLegalStream(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	cases := []struct {
		name        string
		fulfillment string
		targets     []domain.Status
	}{
		{"same target", "pickup", []domain.Status{domain.StatusConfirmed}},
		{"mixed targets", "delivery", []domain.Status{domain.StatusConfirmed,
			domain.StatusPreparing, domain.StatusReady, domain.StatusOutForDelivery,
			domain.StatusDelivered, domain.StatusPickedUp, domain.StatusCancelled}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := pickupOrder(c.business.ID, c.product.ID, 1)
			if tc.fulfillment == "delivery" {
				body = deliveryOrder(c.business.ID, c.product.ID, 1, "cash")
			}
			o := h.order(t, c.customer, body)
			movers := []*testUser{c.owner, c.staff, c.admin}
			statuses := make([]int, 50)
			codes := make([]string, 50)
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					to := tc.targets[i%len(tc.targets)]
					// Cancelling only late keeps the race long enough to matter.
					if to == domain.StatusCancelled && i < 40 {
						to = domain.StatusConfirmed
					}
					resp := movers[i%len(movers)].Do(http.MethodPost, "/v1/orders/"+o.ID+"/transitions",
						map[string]any{"to": to})
					statuses[i] = resp.Status
					if resp.Status != http.StatusOK {
						codes[i] = resp.Code(t)
					}
				}()
			}
			wg.Wait()

			succeeded := 0
			for i, s := range statuses {
				switch s {
				case http.StatusOK:
					succeeded++
				case http.StatusConflict:
					require.Contains(t, []string{"invalid_transition", "version_conflict"}, codes[i])
				default:
					t.Fatalf("request %d answered %d (%s)", i, s, codes[i])
				}
			}
			final, changes := requireLegalStream(t, h, o.ID, tc.fulfillment)
			require.Equal(t, succeeded, changes, "one event per successful answer")
			require.GreaterOrEqual(t, succeeded, 1)
			if tc.name == "same target" {
				require.Equal(t, 1, succeeded)
			}
			read := requireOrder(t, c.customer.Do(http.MethodGet, "/v1/orders/"+o.ID, nil,
				minPos(h.head(t))...))
			require.Equal(t, final, read.Status)
			require.Equal(t, int64(1+changes), read.Version)
		})
	}
}

func TestIdempotencyKey_RetryGetsTheFirstAnswerAndAppendsNothing(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	body := pickupOrder(c.business.ID, c.product.ID, 2)

	first := c.customer.Do(http.MethodPost, "/v1/orders", body, "Idempotency-Key", "pedido-1")
	events := h.eventCount(t)
	retry := c.customer.Do(http.MethodPost, "/v1/orders", body, "Idempotency-Key", "pedido-1")
	reused := c.customer.Do(http.MethodPost, "/v1/orders", pickupOrder(c.business.ID, c.product.ID, 3),
		"Idempotency-Key", "pedido-1")
	other := c.stranger.Do(http.MethodPost, "/v1/orders", body, "Idempotency-Key", "pedido-1")

	require.Equal(t, http.StatusCreated, first.Status, "body: %s", first.Body)
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))
	require.Equal(t, http.StatusCreated, retry.Status)
	require.Equal(t, "true", retry.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.Body, retry.Body)
	for _, name := range []string{"Location", "ETag", "X-Position"} {
		require.Equal(t, first.Header.Get(name), retry.Header.Get(name), name)
	}
	requireProblem(t, reused, http.StatusUnprocessableEntity, domain.CodeIdempotencyReuse)
	require.Equal(t, http.StatusCreated, other.Status, "keys belong to their caller")
	require.NotEqual(t, first.Map(t)["id"], other.Map(t)["id"])
	require.Equal(t, events+1, h.eventCount(t), "only the other caller's order was appended")

	id, _ := first.Map(t)["id"].(string)
	path := "/v1/orders/" + id + "/transitions"
	moved := c.owner.Do(http.MethodPost, path, map[string]any{"to": "confirmed"}, "Idempotency-Key", "m1")
	events = h.eventCount(t)
	again := c.owner.Do(http.MethodPost, path, map[string]any{"to": "confirmed"}, "Idempotency-Key", "m1")
	refused := c.owner.Do(http.MethodPost, path, map[string]any{"to": "picked_up"},
		"Idempotency-Key", "m2")
	refusedAgain := c.owner.Do(http.MethodPost, path, map[string]any{"to": "picked_up"},
		"Idempotency-Key", "m2")
	unkeyed := c.owner.Do(http.MethodPost, path, map[string]any{"to": "confirmed"})

	require.Equal(t, http.StatusOK, moved.Status, "body: %s", moved.Body)
	require.Equal(t, http.StatusOK, again.Status)
	require.Equal(t, moved.Body, again.Body)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	requireProblem(t, refused, http.StatusConflict, domain.CodeInvalidTransition)
	requireProblem(t, refusedAgain, http.StatusConflict, domain.CodeInvalidTransition)
	require.Equal(t, "true", refusedAgain.Header.Get("Idempotent-Replayed"))
	requireProblem(t, unkeyed, http.StatusConflict, domain.CodeInvalidTransition)
	require.Equal(t, events, h.eventCount(t))
	long := c.owner.Do(http.MethodPost, path, map[string]any{"to": "preparing"},
		"Idempotency-Key", string(make([]byte, 201)))
	requireProblem(t, long, http.StatusUnprocessableEntity, domain.CodeValidation)
}

// orderIDs lists the ids of one page of orders answered to u.
func orderIDs(t *testing.T, u *testUser, query string) []string {
	t.Helper()
	resp := u.Do(http.MethodGet, "/v1/orders?"+query, nil)
	require.Equal(t, http.StatusOK, resp.Status, "GET /v1/orders?%s: %s", query, resp.Body)
	var page listJSON[orderJSON]
	resp.JSON(t, &page)
	ids := []string{}
	for _, o := range page.Items {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestListOrders_FiltersPagesAndSeesOnlyWhatTheCallerMay(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	other := h.business(t, c.rival, nil)
	otherProduct := h.product(t, c.rival, other.ID, nil)
	// Newest first: o4, o3, o2, o1.
	o1 := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	o2 := h.order(t, c.stranger, pickupOrder(c.business.ID, c.product.ID, 1))
	o3 := h.order(t, c.customer, pickupOrder(other.ID, otherProduct.ID, 1))
	o4 := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	h.await(t, moveOrder(t, c.owner, o4.ID, domain.StatusConfirmed).Position)
	all := []string{o4.ID, o3.ID, o2.ID, o1.ID}
	biz, rivalBiz := c.business.ID, other.ID
	read := requireOrder(t, c.admin.Do(http.MethodGet, "/v1/orders/"+o2.ID, nil))

	require.Equal(t, all, orderIDs(t, c.admin, ""))
	require.Equal(t, all, orderIDs(t, c.auditor, ""))
	require.Equal(t, []string{o4.ID, o3.ID, o1.ID}, orderIDs(t, c.customer, ""))
	require.Equal(t, []string{o4.ID, o1.ID}, orderIDs(t, c.customer, "business_id="+biz))
	require.Equal(t, []string{o2.ID}, orderIDs(t, c.stranger, ""))
	require.Equal(t, []string{o4.ID, o2.ID, o1.ID}, orderIDs(t, c.owner, "business_id="+biz))
	require.Equal(t, []string{o4.ID, o2.ID, o1.ID}, orderIDs(t, c.staff, ""))
	require.Equal(t, []string{o3.ID}, orderIDs(t, c.rival, "business_id="+rivalBiz))
	require.Equal(t, []string{o3.ID}, orderIDs(t, c.admin, "business_id="+rivalBiz))
	require.Equal(t, []string{o2.ID}, orderIDs(t, c.admin, "customer_id="+c.stranger.ID.String()))
	require.Equal(t, []string{o4.ID}, orderIDs(t, c.admin, "status=confirmed"))
	require.Equal(t, []string{o2.ID, o1.ID}, orderIDs(t, c.owner, "business_id="+biz+"&status=placed"))
	from := url.QueryEscape(read.CreatedAt.Format(time.RFC3339Nano))
	require.Equal(t, []string{o4.ID, o3.ID, o2.ID}, orderIDs(t, c.admin, "created_from="+from))
	require.Equal(t, []string{o1.ID}, orderIDs(t, c.admin, "created_to="+from))
	require.Equal(t, [][]string{{o4.ID, o3.ID}, {o2.ID, o1.ID}, {}},
		collectPages(t, c.auditor.Client, "/v1/orders?limit=2"))
	require.Equal(t, [][]string{{o4.ID}, {o1.ID}, {}},
		collectPages(t, c.customer.Client, "/v1/orders?limit=1&business_id="+biz))

	refused := []struct {
		u      *testUser
		query  string
		status int
	}{
		{c.customer, "customer_id=" + c.stranger.ID.String(), http.StatusForbidden},
		{c.owner, "", http.StatusUnprocessableEntity},
		{c.owner, "business_id=" + rivalBiz, http.StatusForbidden},
		{c.staff, "business_id=" + rivalBiz, http.StatusForbidden},
		{c.admin, "status=lost", http.StatusUnprocessableEntity},
		{c.admin, "business_id=la-esquina", http.StatusUnprocessableEntity},
		{c.admin, "created_from=ayer", http.StatusUnprocessableEntity},
		{c.admin, "cursor=not-a-cursor", http.StatusUnprocessableEntity},
		{c.admin, "limit=0", http.StatusUnprocessableEntity},
	}
	for _, r := range refused {
		resp := r.u.Do(http.MethodGet, "/v1/orders?"+r.query, nil)
		require.Equal(t, r.status, resp.Status, "%s: %s", r.query, resp.Body)
	}
	requireProblem(t, h.api.Do(http.MethodGet, "/v1/orders", nil), http.StatusUnauthorized,
		domain.CodeUnauthorized)
}

func TestGetOrder_ReadableByItsPartiesAdminsAndAuditorsOnly(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, 1, "cash"))
	path := "/v1/orders/" + o.ID

	for _, u := range []*testUser{c.customer, c.owner, c.staff, c.admin, c.auditor} {
		resp := u.Do(http.MethodGet, path, nil, minPos(o.Position)...)
		read := requireOrder(t, resp)
		require.Equal(t, o.ID, read.ID)
		require.Equal(t, `"1"`, resp.Header.Get("ETag"))
		require.Equal(t, &domain.Address{Street: "Av. Corrientes 1234", City: "CABA"}, read.Address)
	}
	for _, u := range []*testUser{c.stranger, c.rival} {
		requireProblem(t, u.Do(http.MethodGet, path, nil), http.StatusNotFound, domain.CodeNotFound)
	}
	requireProblem(t, h.api.Do(http.MethodGet, path, nil), http.StatusUnauthorized,
		domain.CodeUnauthorized)
	requireProblem(t, c.admin.Do(http.MethodGet, "/v1/orders/"+uuid.NewString(), nil),
		http.StatusNotFound, domain.CodeNotFound)
}

func TestDailyReport_CountsOrdersCompletionsCancellationsAndRevenue(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	delivered := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, 2, "cash"))
	picked := h.order(t, c.stranger, pickupOrder(c.business.ID, c.product.ID, 3))
	cancelled := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 4))
	for _, s := range []domain.Status{domain.StatusConfirmed, domain.StatusPreparing,
		domain.StatusReady, domain.StatusOutForDelivery, domain.StatusDelivered} {
		moveOrder(t, c.staff, delivered.ID, s)
	}
	for _, s := range []domain.Status{domain.StatusConfirmed, domain.StatusPreparing,
		domain.StatusReady, domain.StatusPickedUp} {
		moveOrder(t, c.owner, picked.ID, s)
	}
	last := moveOrder(t, c.customer, cancelled.ID, domain.StatusCancelled)
	loc, err := time.LoadLocation(c.business.Timezone)
	require.NoError(t, err)
	today := time.Now().In(loc)
	query := fmt.Sprintf("?from=%s&to=%s", today.AddDate(0, 0, -1).Format(time.DateOnly),
		today.AddDate(0, 0, 1).Format(time.DateOnly))
	path := "/v1/businesses/" + c.business.ID + "/reports/daily"

	resp := c.owner.Do(http.MethodGet, path+query, nil, minPos(last.Position)...)

	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var report struct {
		BusinessID string `json:"business_id"`
		Days       []struct {
			Day           string       `json:"day"`
			Orders        int64        `json:"orders"`
			Completed     int64        `json:"completed"`
			Cancellations int64        `json:"cancellations"`
			Revenue       domain.Money `json:"revenue"`
		} `json:"days"`
	}
	resp.JSON(t, &report)
	require.Equal(t, c.business.ID, report.BusinessID)
	require.Len(t, report.Days, 1)
	day := report.Days[0]
	require.Equal(t, today.Format(time.DateOnly), day.Day)
	require.Equal(t, []int64{4, 2, 1}, []int64{day.Orders, day.Completed, day.Cancellations})
	// 2 × 1000 + 500 delivery, and 3 × 1000 picked up.
	require.Equal(t, domain.Money{Amount: 5500, Currency: domain.ARS}, day.Revenue)

	for _, u := range []*testUser{c.staff, c.admin, c.auditor} {
		require.Equal(t, http.StatusOK, u.Do(http.MethodGet, path+query, nil).Status)
	}
	for _, u := range []*testUser{c.customer, c.rival} {
		requireProblem(t, u.Do(http.MethodGet, path, nil), http.StatusForbidden, domain.CodeForbidden)
	}
	requireProblem(t, h.api.Do(http.MethodGet, path, nil), http.StatusUnauthorized,
		domain.CodeUnauthorized)
	requireProblem(t, c.admin.Do(http.MethodGet, "/v1/businesses/"+uuid.NewString()+
		"/reports/daily", nil), http.StatusNotFound, domain.CodeNotFound)
	requireProblem(t, c.owner.Do(http.MethodGet, path+"?from=01/03/2026", nil),
		http.StatusUnprocessableEntity, domain.CodeValidation)
	empty := c.owner.Do(http.MethodGet, path+"?from=2020-01-01&to=2020-01-31", nil)
	require.Equal(t, http.StatusOK, empty.Status)
	require.Equal(t, []any{}, empty.Map(t)["days"])
}
