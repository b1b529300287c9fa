package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"comanda/domain"
)

func moneyARS(n int64) domain.Money { return domain.Money{Amount: n, Currency: domain.ARS} }

func moneyCLP(n int64) domain.Money { return domain.Money{Amount: n, Currency: domain.CLP} }

func TestMoney_ArithmeticKeepsTheCurrency(t *testing.T) {
	require.Equal(t, moneyARS(1750), moneyARS(1500).Add(moneyARS(250)))
	require.Equal(t, moneyARS(-250), moneyARS(1500).Sub(moneyARS(1750)))
	require.Equal(t, moneyCLP(14970), moneyCLP(4990).Times(3))
	require.Equal(t, moneyCLP(0), domain.Zero(domain.CLP))
}

func TestMoney_MixingCurrenciesIsABug(t *testing.T) {
	require.PanicsWithValue(t, "BUG: adding CLP to ARS", func() { moneyARS(1).Add(moneyCLP(1)) })
	require.PanicsWithValue(t, "BUG: adding ARS to CLP", func() { moneyCLP(1).Sub(moneyARS(1)) })
}

func TestMoney_StringShowsTheCurrencysMinorUnit(t *testing.T) {
	cases := map[string]domain.Money{
		"ARS 15.00":   moneyARS(1500),
		"ARS 0.07":    moneyARS(7),
		"ARS -0.05":   moneyARS(-5),
		"ARS -12.34":  moneyARS(-1234),
		"CLP 4990":    moneyCLP(4990),
		"CLP -1":      moneyCLP(-1),
		"UYU 1000.10": {Amount: 100010, Currency: domain.UYU},
	}
	for want, m := range cases {
		require.Equal(t, want, m.String())
	}
}

func TestCurrency_OnlyMercadoPagoCurrenciesAreValid(t *testing.T) {
	for _, c := range []domain.Currency{domain.ARS, domain.BRL, domain.CLP, domain.COP, domain.MXN,
		domain.PEN, domain.UYU} {
		require.True(t, c.Valid(), c)
		want := 2
		if c == domain.CLP {
			want = 0
		}
		require.Equal(t, want, c.Exponent(), c)
	}
	for _, c := range []domain.Currency{"USD", "ars", ""} {
		require.False(t, c.Valid(), c)
	}
}

func TestPercentOf_RoundsHalfAwayFromZero(t *testing.T) {
	cases := []struct {
		amount, basisPoints, want int64
	}{
		{999, 1250, 125},      // 124.875
		{999, 5000, 500},      // 499.5
		{998, 5000, 499},      // exact
		{14970, 1250, 1871},   // 1871.25
		{4990, 1250, 624},     // 623.75
		{1, 4999, 0},          // 0.4999
		{1, 5000, 1},          // 0.5
		{-999, 5000, -500},    // -499.5
		{-999, 1250, -125},    // -124.875
		{-14970, 1250, -1871}, // -1871.25
		{1000, 0, 0},
		{1000, 10000, 1000},
		{0, 1250, 0},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, domain.PercentOf(tc.amount, tc.basisPoints),
			"%d basis points of %d", tc.basisPoints, tc.amount)
	}
}

func TestComputeTotals_AddsLinesAndFeeAndTakesOffTheDiscount(t *testing.T) {
	line := func(m domain.Money, q int64) domain.Line {
		return domain.Line{UnitPrice: m, Quantity: q, Total: m.Times(q)}
	}
	cases := []struct {
		name     string
		cur      domain.Currency
		lines    []domain.Line
		fee      domain.Money
		discount *domain.Discount
		want     domain.Totals
	}{
		{"pesos chilenos without discount", domain.CLP, []domain.Line{line(moneyCLP(4990), 3)}, moneyCLP(1500),
			nil, domain.Totals{Subtotal: moneyCLP(14970), DeliveryFee: moneyCLP(1500), Discount: moneyCLP(0),
				Total: moneyCLP(16470)}},
		{"percent in pesos chilenos", domain.CLP, []domain.Line{line(moneyCLP(4990), 3)}, moneyCLP(1500),
			&domain.Discount{Kind: "percent", Value: 1250}, domain.Totals{Subtotal: moneyCLP(14970),
				DeliveryFee: moneyCLP(1500), Discount: moneyCLP(1871), Total: moneyCLP(14599)}},
		{"percent of two lines in pesos argentinos", domain.ARS,
			[]domain.Line{line(moneyARS(999), 1), line(moneyARS(250), 2)}, moneyARS(0),
			&domain.Discount{Kind: "percent", Value: 1250}, domain.Totals{Subtotal: moneyARS(1499),
				DeliveryFee: moneyARS(0), Discount: moneyARS(187), Total: moneyARS(1312)}}, // 187.375
		{"fixed", domain.ARS, []domain.Line{line(moneyARS(999), 1)}, moneyARS(250),
			&domain.Discount{Kind: "fixed", Value: 300}, domain.Totals{Subtotal: moneyARS(999),
				DeliveryFee: moneyARS(250), Discount: moneyARS(300), Total: moneyARS(949)}},
		{"fixed above the subtotal is capped, the fee is still paid", domain.ARS,
			[]domain.Line{line(moneyARS(999), 1)}, moneyARS(250), &domain.Discount{Kind: "fixed", Value: 5000},
			domain.Totals{Subtotal: moneyARS(999), DeliveryFee: moneyARS(250), Discount: moneyARS(999),
				Total: moneyARS(250)}},
		{"whole subtotal off", domain.ARS, []domain.Line{line(moneyARS(999), 1)}, moneyARS(0),
			&domain.Discount{Kind: "percent", Value: 10000}, domain.Totals{Subtotal: moneyARS(999),
				DeliveryFee: moneyARS(0), Discount: moneyARS(999), Total: moneyARS(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, domain.ComputeTotals(tc.cur, tc.lines, tc.fee, tc.discount))
		})
	}
}
