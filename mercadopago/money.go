package mercadopago

import (
	"fmt"
	"math"
)

// exponents holds, for each currency MercadoPago settles in that this package supports, the
// number of decimal digits of its minor unit (ISO 4217).
var exponents = map[string]int{
	"ARS": 2,
	"BRL": 2,
	"CLP": 0,
	"COP": 2,
	"MXN": 2,
	"PEN": 2,
	"UYU": 2,
}

// maxExactMinor is the largest magnitude of a minor-unit amount that survives the trip through
// float64 unchanged (2^53).
const maxExactMinor = 1 << 53

// CurrencyExponent reports how many decimal digits the minor unit of currency has (2 for ARS,
// 0 for CLP) and whether the currency is supported.
func CurrencyExponent(currency string) (int, bool) {
	exp, ok := exponents[currency]
	return exp, ok
}

// MinorToMajor converts an amount in minor units of currency (centavos, or whole pesos for CLP)
// into the decimal amount the API expects: 1999 ARS becomes 19.99. The result is the float64
// nearest to the exact decimal, so it encodes to JSON without drift.
func MinorToMajor(minor int64, currency string) (float64, error) {
	exp, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("convert amount: unsupported currency %q: %w", currency, ErrInvalidInput)
	}
	if minor > maxExactMinor || minor < -maxExactMinor {
		return 0, fmt.Errorf("convert amount: %d is too large: %w", minor, ErrInvalidInput)
	}

	// Both operands are exact, and IEEE division rounds correctly, so 1999/100 is the double
	// closest to 19.99.
	return float64(minor) / math.Pow10(exp), nil
}

// MajorToMinor converts a decimal amount from the API back into minor units of currency:
// 19.99 ARS becomes 1999. An amount that is not a whole number of minor units (19.995 ARS)
// is refused rather than rounded, since it means the two sides disagree about the currency.
func MajorToMinor(major float64, currency string) (int64, error) {
	exp, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("convert amount: unsupported currency %q: %w", currency, ErrInvalidInput)
	}
	if math.IsNaN(major) || math.IsInf(major, 0) {
		return 0, fmt.Errorf("convert amount: %v is not a number: %w", major, ErrInvalidInput)
	}

	scaled := major * math.Pow10(exp)
	rounded := math.Round(scaled)
	if math.Abs(rounded) > maxExactMinor {
		return 0, fmt.Errorf("convert amount: %v is too large: %w", major, ErrInvalidInput)
	}

	// The multiplication above may land a few ulps away from the whole number; anything
	// further away than that is a genuine fraction of a minor unit.
	tolerance := 1e-6 + math.Abs(scaled)*1e-15
	if math.Abs(scaled-rounded) > tolerance {
		return 0, fmt.Errorf("convert amount: %v %s is not a whole number of minor units: %w",
			major, currency, ErrInvalidInput)
	}
	return int64(rounded), nil
}
