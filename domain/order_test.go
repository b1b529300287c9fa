package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"comanda/domain"
)

const (
	shopID       = "b-1"
	shopOwner    = "owner-1"
	shopCustomer = "customer-1"
)

var (
	theCustomer   = domain.Actor{ID: shopCustomer, Role: domain.RoleCustomer}
	otherCustomer = domain.Actor{ID: "customer-2", Role: domain.RoleCustomer}
	theOwner      = domain.Actor{ID: shopOwner, Role: domain.RoleBusinessOwner}
	otherOwner    = domain.Actor{ID: "owner-2", Role: domain.RoleBusinessOwner}
	theStaff      = domain.Actor{ID: "staff-1", Role: domain.RoleStaff, BusinessID: shopID}
	otherStaff    = domain.Actor{ID: "staff-2", Role: domain.RoleStaff, BusinessID: "b-2"}
	anAdmin       = domain.Actor{ID: "admin-1", Role: domain.RoleAdmin}
	anAuditor     = domain.Actor{ID: "auditor-1", Role: domain.RoleAuditor}
)

var allOrderStatuses = []domain.Status{domain.StatusPlaced, domain.StatusConfirmed,
	domain.StatusPreparing, domain.StatusReady, domain.StatusOutForDelivery,
	domain.StatusDelivered, domain.StatusPickedUp, domain.StatusCancelled}

// machineEdge is one move of the status machine as the product defines it.
type machineEdge struct {
	from, to domain.Status
	// byCustomer tells whether the order's customer may make the move too;
	// the business always may.
	byCustomer bool
	// only limits the move to one fulfillment.
	only domain.Fulfillment
}

var machineEdges = []machineEdge{
	{domain.StatusPlaced, domain.StatusConfirmed, false, ""},
	{domain.StatusPlaced, domain.StatusCancelled, true, ""},
	{domain.StatusConfirmed, domain.StatusPreparing, false, ""},
	{domain.StatusConfirmed, domain.StatusCancelled, true, ""},
	{domain.StatusPreparing, domain.StatusReady, false, ""},
	{domain.StatusPreparing, domain.StatusCancelled, false, ""},
	{domain.StatusReady, domain.StatusOutForDelivery, false, domain.Delivery},
	{domain.StatusReady, domain.StatusPickedUp, false, domain.Pickup},
	{domain.StatusOutForDelivery, domain.StatusDelivered, false, ""},
}

func orderAt(status domain.Status, f domain.Fulfillment, pay domain.PaymentMethod) *domain.Order {
	return &domain.Order{ID: "o-1", BusinessID: shopID, CustomerID: shopCustomer, Status: status,
		Fulfillment: f, PaymentMethod: pay, Version: 3}
}

func TestTransition_EveryStatusTargetRoleAndFulfillment(t *testing.T) {
	actors := []struct {
		name string
		a    domain.Actor
		// party: "customer", "business" or "" for no party of the order.
		party string
	}{
		{"customer", theCustomer, "customer"}, {"other customer", otherCustomer, ""},
		{"owner", theOwner, "business"}, {"other owner", otherOwner, ""},
		{"staff", theStaff, "business"}, {"other staff", otherStaff, ""},
		{"admin", anAdmin, "business"}, {"auditor", anAuditor, ""},
	}
	for _, f := range []domain.Fulfillment{domain.Pickup, domain.Delivery} {
		for _, from := range allOrderStatuses {
			for _, who := range actors {
				var allowed []domain.Status
				for _, to := range allOrderStatuses {
					name := fmt.Sprintf("%s %s to %s by %s", f, from, to, who.name)
					o := orderAt(from, f, domain.PayCash)
					var e *machineEdge
					for i := range machineEdges {
						if machineEdges[i].from == from && machineEdges[i].to == to &&
							(machineEdges[i].only == "" || machineEdges[i].only == f) {
							e = &machineEdges[i]
						}
					}

					ev, err := o.Transition(who.a, shopOwner, to, "")

					switch {
					case who.party == "":
						require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err), name)
					case e == nil:
						require.Equal(t, domain.CodeInvalidTransition, domain.ErrorCode(err), name)
					case who.party == "customer" && !e.byCustomer:
						require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err), name)
					default:
						require.NoError(t, err, name)
						require.Equal(t, &domain.OrderStatusChanged{OrderID: "o-1", From: from, To: to,
							ByRole: who.a.Role}, ev, name)
						allowed = append(allowed, to)
					}
				}
				got := orderAt(from, f, domain.PayCash).AllowedTransitions(who.a, shopOwner)
				slices.Sort(got)
				slices.Sort(allowed)
				require.Equal(t, append([]domain.Status{}, allowed...), got,
					"%s %s: allowed transitions for %s", f, from, who.name)
			}
		}
	}
}

func TestTransition_TerminalStatusesAcceptNothingAndSayWhy(t *testing.T) {
	for _, s := range []domain.Status{domain.StatusDelivered, domain.StatusPickedUp,
		domain.StatusCancelled} {
		require.True(t, s.Terminal(), s)
		_, err := orderAt(s, domain.Delivery, domain.PayCash).Transition(theOwner, shopOwner,
			domain.StatusPlaced, "")

		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.CodeInvalidTransition, de.Code)
		require.Contains(t, de.Message, "accepts no more changes")
		require.Equal(t, map[string]any{"status": s, "allowed": []domain.Status{}}, de.Details)
	}
	for _, s := range allOrderStatuses[:5] {
		require.False(t, s.Terminal(), s)
	}
}

func TestTransition_UnknownTargetAndLongReasonAreInvalid(t *testing.T) {
	o := orderAt(domain.StatusPlaced, domain.Pickup, domain.PayCash)

	_, unknown := o.Transition(theOwner, shopOwner, "eaten", "")
	_, long := o.Transition(theOwner, shopOwner, domain.StatusCancelled, strings.Repeat("x", 501))
	_, fine := o.Transition(theOwner, shopOwner, domain.StatusCancelled, strings.Repeat("ñ", 500))

	require.Equal(t, domain.CodeValidation, domain.ErrorCode(unknown))
	require.Equal(t, domain.CodeValidation, domain.ErrorCode(long))
	require.NoError(t, fine)
}

func TestTransition_MercadoPagoOrderIsPreparedOnlyOncePaid(t *testing.T) {
	mp := orderAt(domain.StatusConfirmed, domain.Delivery, domain.PayMercadoPago)
	cash := orderAt(domain.StatusConfirmed, domain.Delivery, domain.PayCash)

	_, unpaid := mp.Transition(theOwner, shopOwner, domain.StatusPreparing, "")
	_, cashErr := cash.Transition(theOwner, shopOwner, domain.StatusPreparing, "")
	_, cancelUnpaid := mp.Transition(theCustomer, shopOwner, domain.StatusCancelled, "")
	mp.Apply(&domain.OrderPaid{OrderID: mp.ID, PaymentID: "p-1", Amount: moneyARS(100)})
	_, paid := mp.Transition(theStaff, shopOwner, domain.StatusPreparing, "")

	var de *domain.Error
	require.ErrorAs(t, unpaid, &de)
	require.Equal(t, domain.CodeInvalidTransition, de.Code)
	require.Equal(t, false, de.Details["paid"])
	require.NoError(t, cashErr)
	require.NoError(t, cancelUnpaid)
	require.True(t, mp.Paid)
	require.Equal(t, int64(4), mp.Version)
	require.NoError(t, paid)
}

// testShop is an open ARS business with a delivery fee and its products.
func testShop() (*domain.Business, map[string]domain.CatalogItem) {
	b := &domain.Business{ID: shopID, OwnerID: shopOwner, Currency: domain.ARS,
		DeliveryFee: moneyARS(500), Open: true, Timezone: "America/Argentina/Buenos_Aires"}
	return b, map[string]domain.CatalogItem{
		"p-1": {ID: "p-1", BusinessID: shopID, Name: "Empanada", Price: moneyARS(1000), Available: true},
		"p-2": {ID: "p-2", BusinessID: shopID, Name: "Tarta", Price: moneyARS(2500)},
		"p-3": {ID: "p-3", BusinessID: "b-2", Name: "Ajena", Price: moneyARS(10), Available: true},
	}
}

func TestPlaceOrder_PricesLinesAndChargesDeliveryOnlyForDelivery(t *testing.T) {
	b, products := testShop()
	in := domain.OrderInput{Fulfillment: domain.Delivery, PaymentMethod: domain.PayCash,
		Address: &domain.Address{Street: "Florida 1", City: "CABA"}, Note: "  timbre 2B ",
		Lines: []domain.LineInput{{ProductID: "p-1", Quantity: 3, Note: " sin sal "}}}

	delivery, err := domain.PlaceOrder("o-1", theCustomer, b, true, products, in)
	require.NoError(t, err)
	in.Fulfillment, in.Address = domain.Pickup, nil
	pickup, err := domain.PlaceOrder("o-2", theCustomer, b, true, products, in)
	require.NoError(t, err)

	require.Equal(t, []domain.Line{{ProductID: "p-1", Name: "Empanada", UnitPrice: moneyARS(1000),
		Quantity: 3, Note: "sin sal", Total: moneyARS(3000)}}, delivery.Lines)
	require.Equal(t, "timbre 2B", delivery.Note)
	require.Equal(t, moneyARS(3500), delivery.Totals.Total)
	require.Equal(t, moneyARS(0), pickup.Totals.DeliveryFee)
	require.Equal(t, moneyARS(3000), pickup.Totals.Total)
	require.Equal(t, "America/Argentina/Buenos_Aires", delivery.Timezone)

	var o domain.Order
	o.Apply(delivery)
	require.Equal(t, domain.StatusPlaced, o.Status)
	require.Equal(t, shopCustomer, o.CustomerID)
	require.Equal(t, int64(1), o.Version)
}

func TestPlaceOrder_ListsEveryInvalidField(t *testing.T) {
	b, products := testShop()
	valid := func() domain.OrderInput {
		return domain.OrderInput{Fulfillment: domain.Pickup, PaymentMethod: domain.PayCash,
			Lines: []domain.LineInput{{ProductID: "p-1", Quantity: 1}}}
	}
	cases := []struct {
		name   string
		change func(in *domain.OrderInput)
		open   bool
		fields []string
	}{
		{"closed", func(*domain.OrderInput) {}, false, []string{"business_id"}},
		{"no lines", func(in *domain.OrderInput) { in.Lines = nil }, true, []string{"lines"}},
		{"too many lines", func(in *domain.OrderInput) {
			in.Lines = slices.Repeat(in.Lines, domain.MaxLines+1)
		}, true, []string{"lines"}},
		{"unknown, foreign and unavailable products", func(in *domain.OrderInput) {
			in.Lines = []domain.LineInput{{ProductID: "nope", Quantity: 1},
				{ProductID: "p-3", Quantity: 1}, {ProductID: "p-2", Quantity: 1}}
		}, true, []string{"lines[0].product_id", "lines[1].product_id", "lines[2].product_id"}},
		{"quantities", func(in *domain.OrderInput) {
			in.Lines = []domain.LineInput{{ProductID: "p-1", Quantity: 0},
				{ProductID: "p-1", Quantity: -1}, {ProductID: "p-1", Quantity: domain.MaxLineQuantity + 1},
				{ProductID: "p-1", Quantity: domain.MaxLineQuantity}}
		}, true, []string{"lines[0].quantity", "lines[1].quantity", "lines[2].quantity"}},
		{"delivery without address", func(in *domain.OrderInput) { in.Fulfillment = domain.Delivery },
			true, []string{"address"}},
		{"delivery with blank address", func(in *domain.OrderInput) {
			in.Fulfillment = domain.Delivery
			in.Address = &domain.Address{Street: " ", Notes: strings.Repeat("n", 501)}
		}, true, []string{"address.street", "address.city", "address.notes"}},
		{"unknown kinds", func(in *domain.OrderInput) {
			in.Fulfillment, in.PaymentMethod = "drone", "barter"
		}, true, []string{"fulfillment", "payment_method"}},
		{"long notes", func(in *domain.OrderInput) {
			in.Note = strings.Repeat("x", 501)
			in.Lines[0].Note = strings.Repeat("x", 501)
		}, true, []string{"note", "lines[0].note"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.change(&in)

			_, err := domain.PlaceOrder("o-1", theCustomer, b, tc.open, products, in)

			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, domain.CodeValidation, de.Code)
			var fields []string
			for _, f := range de.Fields {
				fields = append(fields, f.Field)
			}
			require.ElementsMatch(t, tc.fields, fields)
		})
	}
	_, missing := domain.PlaceOrder("o-1", theCustomer, nil, true, products, valid())
	require.Equal(t, domain.CodeValidation, domain.ErrorCode(missing))
	for _, a := range []domain.Actor{theOwner, theStaff, anAdmin, anAuditor} {
		_, err := domain.PlaceOrder("o-1", a, b, true, products, valid())
		require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err), a.Role)
	}
}

func TestOrderUpdate_OnlyTheCustomerWhileThePlacedOrderKeepsItsDiscount(t *testing.T) {
	b, products := testShop()
	placed, err := domain.PlaceOrder("o-1", theCustomer, b, true, products, domain.OrderInput{
		Fulfillment: domain.Delivery, PaymentMethod: domain.PayCash,
		Address: &domain.Address{Street: "Florida 1", City: "CABA"},
		Lines:   []domain.LineInput{{ProductID: "p-1", Quantity: 1}}})
	require.NoError(t, err)
	var o domain.Order
	o.Apply(placed)
	d, err := o.ApplyDiscount(theOwner, shopOwner, domain.Discount{Kind: "percent", Value: 1000})
	require.NoError(t, err)
	o.Apply(d)

	up, err := o.Update(theCustomer, b, products, domain.OrderInput{
		Lines: []domain.LineInput{{ProductID: "p-1", Quantity: 4}}, Note: " otra "}, false)
	require.NoError(t, err)
	kept, err := o.Update(theCustomer, b, products, domain.OrderInput{Note: "x"}, true)
	require.NoError(t, err)
	_, byOwner := o.Update(theOwner, b, products, domain.OrderInput{}, true)
	o.Apply(&domain.OrderStatusChanged{OrderID: o.ID, From: o.Status, To: domain.StatusConfirmed})
	_, late := o.Update(theCustomer, b, products, domain.OrderInput{}, true)

	require.Equal(t, domain.Totals{Subtotal: moneyARS(4000), DeliveryFee: moneyARS(500), Discount: moneyARS(400),
		Total: moneyARS(4100)}, up.Totals)
	require.Equal(t, "otra", up.Note)
	require.Equal(t, &domain.Address{Street: "Florida 1", City: "CABA"}, up.Address)
	require.Equal(t, o.Lines, kept.Lines)
	require.Equal(t, domain.CodeForbidden, domain.ErrorCode(byOwner))
	require.Equal(t, domain.CodeInvalidTransition, domain.ErrorCode(late))
}

func TestApplyDiscount_ValidatesKindsAndBounds(t *testing.T) {
	o := orderAt(domain.StatusPlaced, domain.Pickup, domain.PayCash)
	o.Lines = []domain.Line{{ProductID: "p-1", UnitPrice: moneyARS(999), Quantity: 1, Total: moneyARS(999)}}
	o.Totals = domain.ComputeTotals(domain.ARS, o.Lines, moneyARS(0), nil)
	cases := []struct {
		d    domain.Discount
		code domain.Code
	}{
		{domain.Discount{Kind: "fixed", Value: 0}, ""},
		{domain.Discount{Kind: "fixed", Value: 1e12}, ""},
		{domain.Discount{Kind: "fixed", Value: 1e12 + 1}, domain.CodeValidation},
		{domain.Discount{Kind: "fixed", Value: -1}, domain.CodeValidation},
		{domain.Discount{Kind: "percent", Value: 10000}, ""},
		{domain.Discount{Kind: "percent", Value: 10001}, domain.CodeValidation},
		{domain.Discount{Kind: "coupon", Value: 1}, domain.CodeValidation},
	}
	for _, tc := range cases {
		_, err := o.ApplyDiscount(theStaff, shopOwner, tc.d)
		if tc.code == "" {
			require.NoError(t, err, tc.d)
			continue
		}
		require.Equal(t, tc.code, domain.ErrorCode(err), tc.d)
	}
	_, customerErr := o.ApplyDiscount(theCustomer, shopOwner, domain.Discount{Kind: "fixed", Value: 1})
	require.Equal(t, domain.CodeForbidden, domain.ErrorCode(customerErr))
}

func TestPostMessage_FromTheCustomerOrTheBusinessOnly(t *testing.T) {
	o := orderAt(domain.StatusDelivered, domain.Pickup, domain.PayCash)

	for _, a := range []domain.Actor{theCustomer, theOwner, theStaff, anAdmin} {
		m, err := o.PostMessage(a, shopOwner, "m-1", "  hola  ", map[string]any{"k": 1})
		require.NoError(t, err, a.Role)
		require.Equal(t, "hola", m.Text)
		require.Equal(t, a.Role, m.AuthorRole)
	}
	for _, a := range []domain.Actor{otherCustomer, otherOwner, otherStaff, anAuditor} {
		_, err := o.PostMessage(a, shopOwner, "m-1", "hola", nil)
		require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err), a.Role)
	}
	tooMany := map[string]any{}
	for i := range 21 {
		tooMany[fmt.Sprint(i)] = i
	}
	for _, bad := range []struct {
		text string
		meta map[string]any
	}{{" ", nil}, {strings.Repeat("x", 2001), nil}, {"hola", tooMany}} {
		_, err := o.PostMessage(theCustomer, shopOwner, "m-1", bad.text, bad.meta)
		require.Equal(t, domain.CodeValidation, domain.ErrorCode(err))
	}
}

func TestOrderVisibleTo_PartiesAdminsAndAuditors(t *testing.T) {
	o := orderAt(domain.StatusPlaced, domain.Pickup, domain.PayCash)

	for _, a := range []domain.Actor{theCustomer, theOwner, theStaff, anAdmin, anAuditor} {
		require.True(t, o.VisibleTo(a, shopOwner), a.ID)
	}
	for _, a := range []domain.Actor{otherCustomer, otherOwner, otherStaff,
		{ID: shopCustomer, Role: domain.RoleBusinessOwner}} {
		require.False(t, o.VisibleTo(a, shopOwner), a.ID)
	}
}
