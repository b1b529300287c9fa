package mercadopago

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// msThreshold separates the two units MercadoPago's ts is found in: a larger value is taken as
// milliseconds (1e12 ms is in 2001; 1e12 s is tens of millennia away).
const msThreshold = 1_000_000_000_000

// VerifySignature checks the x-signature header of a webhook, "ts=<ts>,v1=<hex>".
//
// dataID is the data.id query parameter and requestID the x-request-id header; either may be
// empty, in which case it is left out of the signed text, as MercadoPago does. The signed text
// is "id:<dataID>;request-id:<requestID>;ts:<ts>;" with dataID lowercased (MercadoPago's
// documentation asks for alphanumeric ids in lowercase; numeric payment ids are unaffected),
// and v1 is its hex HMAC-SHA256 under secret, compared in constant time.
//
// ts may be in seconds or milliseconds. The signature is refused with ErrSignatureExpired when
// ts is more than window before or after now, which limits replays.
//
// The error is ErrSignatureMissing, ErrSignatureInvalid or ErrSignatureExpired, possibly
// wrapped with detail.
func VerifySignature(secret, header, dataID, requestID string, now time.Time,
	window time.Duration) error {
	if strings.TrimSpace(header) == "" {
		return ErrSignatureMissing
	}
	if secret == "" {
		return fmt.Errorf("verify signature: no secret configured: %w", ErrSignatureInvalid)
	}

	ts, v1, err := parseSignatureHeader(header)
	if err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	stamp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || stamp <= 0 {
		return fmt.Errorf("verify signature: ts %q is not a timestamp: %w", ts, ErrSignatureInvalid)
	}
	got, err := hex.DecodeString(v1)
	if err != nil {
		return fmt.Errorf("verify signature: v1 is not hex: %w", ErrSignatureInvalid)
	}

	if !hmac.Equal(got, signatureMAC(secret, dataID, requestID, ts)) {
		return ErrSignatureInvalid
	}

	var signedAt time.Time
	if stamp > msThreshold {
		signedAt = time.UnixMilli(stamp)
	} else {
		signedAt = time.Unix(stamp, 0)
	}
	if age := now.Sub(signedAt); age > window || age < -window {
		return fmt.Errorf("verify signature: signed %s from now: %w", age, ErrSignatureExpired)
	}
	return nil
}

// Sign returns the x-signature header value MercadoPago would send for a webhook about dataID
// with the x-request-id requestID, signed at ts (in whole seconds) with secret. The simulator
// uses it; VerifySignature accepts it.
func Sign(secret, dataID, requestID string, ts time.Time) string {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := signatureMAC(secret, dataID, requestID, stamp)
	return "ts=" + stamp + ",v1=" + hex.EncodeToString(mac)
}

// signatureMAC computes the HMAC-SHA256 of the signed text MercadoPago builds for a webhook.
func signatureMAC(secret, dataID, requestID, ts string) []byte {
	var manifest strings.Builder
	if dataID != "" {
		manifest.WriteString("id:" + strings.ToLower(dataID) + ";")
	}
	if requestID != "" {
		manifest.WriteString("request-id:" + requestID + ";")
	}
	manifest.WriteString("ts:" + ts + ";")

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(manifest.String()))
	return mac.Sum(nil)
}

// parseSignatureHeader extracts ts and v1 from "ts=<ts>,v1=<hex>", ignoring other keys.
func parseSignatureHeader(header string) (ts, v1 string, err error) {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return "", "", fmt.Errorf("malformed header part %q: %w", part, ErrSignatureInvalid)
		}
		switch strings.TrimSpace(key) {
		case "ts":
			if ts != "" {
				return "", "", fmt.Errorf("ts given twice: %w", ErrSignatureInvalid)
			}
			ts = strings.TrimSpace(value)
		case "v1":
			if v1 != "" {
				return "", "", fmt.Errorf("v1 given twice: %w", ErrSignatureInvalid)
			}
			v1 = strings.TrimSpace(value)
		}
	}
	if ts == "" || v1 == "" {
		return "", "", fmt.Errorf("header lacks ts or v1: %w", ErrSignatureInvalid)
	}
	return ts, v1, nil
}
