package mercadopago

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func linesTotal(lines []Item) int64 {
	var total int64
	for _, l := range lines {
		total += l.UnitPrice * int64(l.Quantity)
	}
	return total
}

func TestSpreadDiscount_TotalIsExactAndPricesStayPositive(t *testing.T) {
	items := []Item{
		{Title: "Empanada", Quantity: 3, UnitPrice: 1000},
		{Title: "Flan", Quantity: 1, UnitPrice: 2550},
	}

	lines, err := spreadDiscount(items, 5550, 1001)
	require.NoError(t, err)
	require.Equal(t, int64(5550-1001), linesTotal(lines))
	for _, l := range lines {
		require.Positive(t, l.UnitPrice)
		require.Positive(t, l.Quantity)
	}
}

func TestSpreadDiscount_SplitsALineThatNoLongerDividesByItsQuantity(t *testing.T) {
	lines, err := spreadDiscount([]Item{{Title: "Empanada", Quantity: 3, UnitPrice: 1000}}, 3000, 1)
	require.NoError(t, err)
	require.Equal(t, []Item{
		{Title: "Empanada", Quantity: 1, UnitPrice: 999},
		{Title: "Empanada", Quantity: 2, UnitPrice: 1000},
	}, lines)
}

func TestSpreadDiscount_WithoutDiscountReturnsTheItems(t *testing.T) {
	items := []Item{{Title: "Café", Quantity: 2, UnitPrice: 350}}
	lines, err := spreadDiscount(items, 700, 0)
	require.NoError(t, err)
	require.Equal(t, items, lines)
}

func TestSpreadDiscount_RefusesADiscountThatLeavesNothingToCharge(t *testing.T) {
	_, err := spreadDiscount([]Item{{Title: "Café", Quantity: 1, UnitPrice: 350}}, 350, 350)
	require.ErrorIs(t, err, ErrInvalidInput)

	items := []Item{{Title: "Chicle", Quantity: 1, UnitPrice: 1}, {Title: "Torta", Quantity: 1,
		UnitPrice: 1000}}
	_, err = spreadDiscount(items, 1001, 1000)
	require.ErrorIs(t, err, ErrInvalidInput)
}

func TestSpreadDiscount_RandomOrdersAddUpExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		items := make([]Item, 1+rng.IntN(5))
		var subtotal int64
		for i := range items {
			items[i] = Item{Title: "x", Quantity: 1 + rng.IntN(7), UnitPrice: 1 + rng.Int64N(50_000)}
			subtotal += items[i].UnitPrice * int64(items[i].Quantity)
		}
		discount := rng.Int64N(subtotal)

		lines, err := spreadDiscount(items, subtotal, discount)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidInput)
			continue
		}
		require.Equal(t, subtotal-discount, linesTotal(lines))
		for _, l := range lines {
			require.Positive(t, l.UnitPrice)
		}
	}
}

func TestCheckoutLines_AppendsDeliveryAfterDiscountedItems(t *testing.T) {
	lines, err := checkoutLines(PreferenceInput{
		OrderID:     "order-1",
		Currency:    "CLP",
		Items:       []Item{{Title: "Completo", Quantity: 2, UnitPrice: 3500}},
		DeliveryFee: 1500,
		Discount:    1000,
	})
	require.NoError(t, err)
	require.Equal(t, []Item{
		{Title: "Completo", Quantity: 2, UnitPrice: 3000},
		{Title: DeliveryItemTitle, Quantity: 1, UnitPrice: 1500},
	}, lines)
}

func TestCheckoutLines_RefusesUnusableInput(t *testing.T) {
	valid := PreferenceInput{
		OrderID:  "order-1",
		Currency: "ARS",
		Items:    []Item{{Title: "Pizza", Quantity: 1, UnitPrice: 1000}},
	}
	for name, mutate := range map[string]func(*PreferenceInput){
		"no order id":       func(in *PreferenceInput) { in.OrderID = "" },
		"unknown currency":  func(in *PreferenceInput) { in.Currency = "USD" },
		"no items":          func(in *PreferenceInput) { in.Items = nil },
		"zero quantity":     func(in *PreferenceInput) { in.Items[0].Quantity = 0 },
		"free item":         func(in *PreferenceInput) { in.Items[0].UnitPrice = 0 },
		"negative delivery": func(in *PreferenceInput) { in.DeliveryFee = -1 },
		"discount too big":  func(in *PreferenceInput) { in.Discount = 1000 },
		"overflowing line": func(in *PreferenceInput) {
			in.Items[0].Quantity, in.Items[0].UnitPrice = 1<<30, 1<<30
		},
	} {
		in := valid
		in.Items = append([]Item(nil), valid.Items...)
		mutate(&in)
		_, err := checkoutLines(in)
		require.ErrorIs(t, err, ErrInvalidInput, name)
	}
}
