package mercadopago_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"comanda/mercadopago"
)

func TestMinorToMajor_ARSKeepsTwoDecimalsWithoutDrift(t *testing.T) {
	major, err := mercadopago.MinorToMajor(1999, "ARS")
	require.NoError(t, err)
	require.Equal(t, 19.99, major)

	encoded, err := json.Marshal(major)
	require.NoError(t, err)
	require.Equal(t, "19.99", string(encoded))

	minor, err := mercadopago.MajorToMinor(major, "ARS")
	require.NoError(t, err)
	require.Equal(t, int64(1999), minor)
}

func TestMinorToMajor_CLPHasNoDecimals(t *testing.T) {
	major, err := mercadopago.MinorToMajor(1500, "CLP")
	require.NoError(t, err)
	require.Equal(t, 1500.0, major)

	encoded, err := json.Marshal(major)
	require.NoError(t, err)
	require.Equal(t, "1500", string(encoded))

	minor, err := mercadopago.MajorToMinor(major, "CLP")
	require.NoError(t, err)
	require.Equal(t, int64(1500), minor)
}

func TestMinorToMajor_RoundTripsEveryAmount(t *testing.T) {
	for _, currency := range []string{"ARS", "CLP"} {
		for minor := int64(0); minor <= 200_000; minor++ {
			major, err := mercadopago.MinorToMajor(minor, currency)
			require.NoError(t, err)
			back, err := mercadopago.MajorToMinor(major, currency)
			require.NoError(t, err)
			require.Equal(t, minor, back, "%d %s", minor, currency)
		}
	}

	for _, minor := range []int64{123_456_789_012_345, 999_999_999_999_99, -1999} {
		major, err := mercadopago.MinorToMajor(minor, "BRL")
		require.NoError(t, err)
		back, err := mercadopago.MajorToMinor(major, "BRL")
		require.NoError(t, err)
		require.Equal(t, minor, back)
	}
}

func TestMajorToMinor_AbsorbsFloatArithmeticNoise(t *testing.T) {
	minor, err := mercadopago.MajorToMinor(0.1+0.2, "ARS")
	require.NoError(t, err)
	require.Equal(t, int64(30), minor)

	minor, err = mercadopago.MajorToMinor(19.99*3, "MXN")
	require.NoError(t, err)
	require.Equal(t, int64(5997), minor)
}

func TestMajorToMinor_RefusesFractionsOfMinorUnits(t *testing.T) {
	for _, tc := range []struct {
		major    float64
		currency string
	}{
		{19.995, "ARS"},
		{10.5, "CLP"},
		{math.NaN(), "ARS"},
		{math.Inf(1), "ARS"},
		{1e17, "ARS"},
		{10, "USD"},
	} {
		_, err := mercadopago.MajorToMinor(tc.major, tc.currency)
		require.ErrorIs(t, err, mercadopago.ErrInvalidInput, "%v %s", tc.major, tc.currency)
	}
}

func TestMinorToMajor_RefusesUnknownCurrencyAndHugeAmounts(t *testing.T) {
	_, err := mercadopago.MinorToMajor(100, "USD")
	require.ErrorIs(t, err, mercadopago.ErrInvalidInput)

	_, err = mercadopago.MinorToMajor(1<<53+1, "ARS")
	require.ErrorIs(t, err, mercadopago.ErrInvalidInput)
}

func TestCurrencyExponent_FollowsISO4217(t *testing.T) {
	for currency, want := range map[string]int{
		"ARS": 2, "BRL": 2, "MXN": 2, "COP": 2, "PEN": 2, "UYU": 2, "CLP": 0,
	} {
		got, ok := mercadopago.CurrencyExponent(currency)
		require.True(t, ok, currency)
		require.Equal(t, want, got, currency)
	}
	_, ok := mercadopago.CurrencyExponent("EUR")
	require.False(t, ok)
}
