package mercadopago_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"comanda/mercadopago"
)

const secret = "a1b2c3-webhook-secret"

var signedAt = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// header builds an x-signature value independently of Sign, from the documented manifest.
func header(key, manifest, ts string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(manifest))
	return "ts=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerifySignature_AcceptsAValidSignature(t *testing.T) {
	h := mercadopago.Sign(secret, "123456789", "req-1", signedAt)

	err := mercadopago.VerifySignature(secret, h, "123456789", "req-1", signedAt.Add(time.Minute),
		5*time.Minute)
	require.NoError(t, err)
}

func TestSign_MatchesTheDocumentedManifest(t *testing.T) {
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	want := header(secret, "id:123456789;request-id:req-1;ts:"+ts+";", ts)

	require.Equal(t, want, mercadopago.Sign(secret, "123456789", "req-1", signedAt))
}

func TestVerifySignature_AcceptsMillisecondTimestamps(t *testing.T) {
	ts := strconv.FormatInt(signedAt.UnixMilli(), 10)
	h := header(secret, "id:123456789;request-id:req-1;ts:"+ts+";", ts)

	err := mercadopago.VerifySignature(secret, h, "123456789", "req-1", signedAt, time.Minute)
	require.NoError(t, err)

	err = mercadopago.VerifySignature(secret, h, "123456789", "req-1", signedAt.Add(2*time.Minute),
		time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureExpired)
}

func TestVerifySignature_RefusesTheWrongSecret(t *testing.T) {
	h := mercadopago.Sign("another-secret", "123456789", "req-1", signedAt)

	err := mercadopago.VerifySignature(secret, h, "123456789", "req-1", signedAt, time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureInvalid)
}

func TestVerifySignature_RefusesATamperedDataIDOrRequestID(t *testing.T) {
	h := mercadopago.Sign(secret, "123456789", "req-1", signedAt)

	err := mercadopago.VerifySignature(secret, h, "123456780", "req-1", signedAt, time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureInvalid)

	err = mercadopago.VerifySignature(secret, h, "123456789", "req-2", signedAt, time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureInvalid)
}

func TestVerifySignature_RefusesAMissingHeader(t *testing.T) {
	err := mercadopago.VerifySignature(secret, "", "123456789", "req-1", signedAt, time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureMissing)

	err = mercadopago.VerifySignature(secret, "  ", "123456789", "req-1", signedAt, time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureMissing)
}

func TestVerifySignature_RefusesATimestampOutsideTheWindow(t *testing.T) {
	h := mercadopago.Sign(secret, "123456789", "req-1", signedAt)

	for _, now := range []time.Time{signedAt.Add(6 * time.Minute), signedAt.Add(-6 * time.Minute)} {
		err := mercadopago.VerifySignature(secret, h, "123456789", "req-1", now, 5*time.Minute)
		require.ErrorIs(t, err, mercadopago.ErrSignatureExpired)
	}
}

func TestVerifySignature_RefusesMalformedHeaders(t *testing.T) {
	for _, h := range []string{
		"garbage",
		"ts=1750000000",
		"v1=00ff",
		"ts=abc,v1=00ff",
		"ts=1750000000,v1=not-hex",
		"ts=1750000000,ts=1750000001,v1=00ff",
	} {
		err := mercadopago.VerifySignature(secret, h, "123456789", "req-1", signedAt, time.Minute)
		require.ErrorIs(t, err, mercadopago.ErrSignatureInvalid, h)
	}
}

func TestVerifySignature_RefusesAnEmptySecret(t *testing.T) {
	h := mercadopago.Sign("", "123456789", "req-1", signedAt)

	err := mercadopago.VerifySignature("", h, "123456789", "req-1", signedAt, time.Minute)
	require.ErrorIs(t, err, mercadopago.ErrSignatureInvalid)
}

func TestVerifySignature_LowercasesAlphanumericDataIDs(t *testing.T) {
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	h := header(secret, "id:abc123def;request-id:req-1;ts:"+ts+";", ts)

	err := mercadopago.VerifySignature(secret, h, "ABC123def", "req-1", signedAt, time.Minute)
	require.NoError(t, err)
}

func TestVerifySignature_LeavesAbsentPartsOutOfTheManifest(t *testing.T) {
	ts := strconv.FormatInt(signedAt.Unix(), 10)

	h := header(secret, "ts:"+ts+";", ts)
	require.NoError(t, mercadopago.VerifySignature(secret, h, "", "", signedAt, time.Minute))

	h = header(secret, "id:42;ts:"+ts+";", ts)
	require.NoError(t, mercadopago.VerifySignature(secret, h, "42", "", signedAt, time.Minute))

	h = header(secret, "request-id:req-1;ts:"+ts+";", ts)
	require.NoError(t, mercadopago.VerifySignature(secret, h, "", "req-1", signedAt, time.Minute))
}

func TestVerifySignature_ToleratesSpacesAndUnknownKeys(t *testing.T) {
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	h := header(secret, "id:42;ts:"+ts+";", ts)

	spaced := "v2=ignored, " + h[:len("ts=")+len(ts)] + " , " + h[len("ts=")+len(ts)+1:]
	require.NoError(t, mercadopago.VerifySignature(secret, spaced, "42", "", signedAt, time.Minute))
}
