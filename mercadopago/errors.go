package mercadopago

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mercadopago/sdk-go/pkg/mperror"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrInvalidInput is returned, wrapped with the reason, when a call is refused before
	// reaching MercadoPago: an unsupported currency, a non-positive quantity, a discount
	// larger than the items, and so on.
	ErrInvalidInput = errors.New("mercadopago: invalid input")

	// ErrInvalidPaymentID is returned by GetPayment and Refund when the id is not the positive
	// integer MercadoPago uses for payments.
	ErrInvalidPaymentID = errors.New("mercadopago: payment id must be a positive integer")

	// ErrNotFound matches an *Error for which MercadoPago answered 404, for example a payment
	// id it does not know.
	ErrNotFound = errors.New("mercadopago: not found")

	// ErrSignatureMissing is returned by VerifySignature when the x-signature header is empty.
	ErrSignatureMissing = errors.New("mercadopago: webhook signature missing")

	// ErrSignatureInvalid is returned by VerifySignature when the header is malformed or the
	// HMAC does not match the secret and the signed fields.
	ErrSignatureInvalid = errors.New("mercadopago: webhook signature invalid")

	// ErrSignatureExpired is returned by VerifySignature when the signature is authentic but
	// its timestamp lies outside the accepted window around now.
	ErrSignatureExpired = errors.New("mercadopago: webhook signature expired")
)

// Error is a call to MercadoPago that failed: no answer arrived, the answer was an HTTP error,
// or it could not be read. Extract it with errors.As and ask Transient whether trying again
// later may succeed.
type Error struct {
	// Op is the action that failed, such as "get payment".
	Op string
	// StatusCode is the HTTP status MercadoPago answered with, or 0 when no answer arrived.
	StatusCode int
	// Code is MercadoPago's own error code ("bad_request", "not_found") when it sent one.
	Code string
	// Message is MercadoPago's explanation when it sent one.
	Message string
	// Err is the underlying error from the SDK or the transport.
	Err error

	// noAnswer is set when the request never got a complete answer: a network failure, a
	// timeout, or a body cut short.
	noAnswer bool
}

// Error describes the failure, starting with the action that failed.
func (e *Error) Error() string {
	switch {
	case e.StatusCode >= 400 && e.Message != "":
		return fmt.Sprintf("mercadopago: %s: HTTP %d: %s", e.Op, e.StatusCode, e.Message)
	case e.StatusCode >= 400:
		return fmt.Sprintf("mercadopago: %s: HTTP %d", e.Op, e.StatusCode)
	default:
		return fmt.Sprintf("mercadopago: %s: %v", e.Op, e.Err)
	}
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e matches target; an HTTP 404 matches ErrNotFound.
func (e *Error) Is(target error) bool {
	return e.StatusCode == http.StatusNotFound && errors.Is(target, ErrNotFound)
}

// Transient reports whether the same call may succeed later: true for timeouts, network
// failures, 5xx answers and 429 (rate limited); false for other 4xx answers, which will fail
// the same way again, and for a call the caller canceled.
func (e *Error) Transient() bool {
	switch {
	case e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500:
		return true
	case e.StatusCode >= 400:
		return false
	case e.noAnswer:
		return !errors.Is(e.Err, context.Canceled)
	default:
		return false
	}
}

// IsTransient reports whether err is an *Error whose Transient method returns true.
func IsTransient(err error) bool {
	var mpErr *Error
	return errors.As(err, &mpErr) && mpErr.Transient()
}

// transportError marks an error returned by the HTTP client, as opposed to one raised by the
// SDK itself (a JSON decoding failure, say), so that classification needs no string matching.
type transportError struct {
	err error
}

// Error returns the transport's message.
func (e *transportError) Error() string { return e.err.Error() }

// Unwrap returns the transport's error.
func (e *transportError) Unwrap() error { return e.err }

// apiErrorBody is the JSON MercadoPago sends with an error status.
type apiErrorBody struct {
	Message string `json:"message"`
	Error   string `json:"error"`
}

// classify turns an error returned by the SDK into an *Error for the action op.
func classify(op string, err error) error {
	var respErr *mperror.ResponseError
	if errors.As(err, &respErr) {
		e := &Error{Op: op, StatusCode: respErr.StatusCode, Err: err}
		if respErr.StatusCode < 400 {
			// The SDK reports a body it could not read with the status of the answer.
			e.noAnswer = true
			return e
		}

		var body apiErrorBody
		if json.Unmarshal([]byte(respErr.Message), &body) == nil {
			e.Code, e.Message = body.Error, body.Message
		}
		if e.Message == "" {
			// Not MercadoPago's JSON (a proxy's HTML page, say): keep it out of the message.
			e.Message = http.StatusText(respErr.StatusCode)
		}
		return e
	}

	var tErr *transportError
	if errors.As(err, &tErr) {
		return &Error{Op: op, Err: tErr.err, noAnswer: true}
	}
	return &Error{Op: op, Err: err}
}
