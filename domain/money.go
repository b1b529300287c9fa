package domain

import (
	"fmt"
	"math/big"
)

// Currency is an ISO 4217 code of a currency MercadoPago serves.
type Currency string

// The currencies the engine accepts.
const (
	ARS Currency = "ARS"
	BRL Currency = "BRL"
	CLP Currency = "CLP"
	COP Currency = "COP"
	MXN Currency = "MXN"
	PEN Currency = "PEN"
	UYU Currency = "UYU"
)

// exponents gives each currency's number of minor-unit digits (ISO 4217).
var exponents = map[Currency]int{ARS: 2, BRL: 2, CLP: 0, COP: 2, MXN: 2, PEN: 2, UYU: 2}

// Valid reports whether c is a currency the engine accepts.
func (c Currency) Valid() bool {
	_, ok := exponents[c]
	return ok
}

// Exponent returns how many decimal digits the currency's minor unit has.
func (c Currency) Exponent() int { return exponents[c] }

// Money is an amount in a currency's minor units. Amounts are never floats.
type Money struct {
	Amount   int64    `json:"amount"`
	Currency Currency `json:"currency"`
}

// Zero returns no money in currency c.
func Zero(c Currency) Money { return Money{Currency: c} }

// Add returns m + o; both must share a currency.
func (m Money) Add(o Money) Money {
	m.mustMatch(o)
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}
}

// Sub returns m - o; both must share a currency.
func (m Money) Sub(o Money) Money {
	m.mustMatch(o)
	return Money{Amount: m.Amount - o.Amount, Currency: m.Currency}
}

// Times returns m multiplied by a whole quantity.
func (m Money) Times(q int64) Money { return Money{Amount: m.Amount * q, Currency: m.Currency} }

// String formats m for logs and messages, such as "ARS 1500.00".
func (m Money) String() string {
	exp := m.Currency.Exponent()
	if exp == 0 {
		return fmt.Sprintf("%s %d", m.Currency, m.Amount)
	}
	div := int64(1)
	for i := 0; i < exp; i++ {
		div *= 10
	}
	sign := ""
	a := m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s %s%d.%0*d", m.Currency, sign, a/div, exp, a%div)
}

func (m Money) mustMatch(o Money) {
	if m.Currency != o.Currency {
		panic(fmt.Sprintf("BUG: adding %s to %s", o.Currency, m.Currency))
	}
}

// PercentOf returns basisPoints/10000 of amount, rounded half away from zero
// to the currency's minor unit: 12.5% (1250 basis points) of 999 minor units
// is 124.875, which rounds to 125.
func PercentOf(amount int64, basisPoints int64) int64 {
	num := new(big.Int).Mul(big.NewInt(amount), big.NewInt(basisPoints))
	q, r := new(big.Int).QuoRem(num, big.NewInt(10000), new(big.Int))
	if new(big.Int).Abs(r).Cmp(big.NewInt(5000)) >= 0 {
		q.Add(q, big.NewInt(int64(num.Sign())))
	}
	return q.Int64()
}
