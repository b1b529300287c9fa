// Package domain is the vocabulary of the order engine: error codes, money,
// businesses, products, orders and payments, and the rules that decide which
// events a command produces. It depends on nothing outside the standard
// library and does no I/O; adapters (the event store, the HTTP API) live in
// their own packages.
package domain

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Codes are only ever added,
// never renamed, because API clients branch on them.
type Code string

// The error codes of the engine. The HTTP layer maps each to one status.
const (
	CodeValidation        Code = "validation_failed"
	CodeNotFound          Code = "not_found"
	CodeUnauthorized      Code = "unauthorized"
	CodeForbidden         Code = "forbidden"
	CodeConflict          Code = "conflict"
	CodeVersionConflict   Code = "version_conflict"
	CodeInvalidTransition Code = "invalid_transition"
	CodeRateLimited       Code = "rate_limited"
	CodeIdempotencyReuse  Code = "idempotency_key_reused"
	CodeProjectionLagging Code = "projection_lagging"
	CodeUnsupportedMedia  Code = "unsupported_media_type"
	CodeTooLarge          Code = "payload_too_large"
	CodeBadGateway        Code = "upstream_failed"
	CodeInternal          Code = "internal"
)

// FieldError names one invalid input field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type the engine returns for expected failures. Its
// Message is safe to show to API clients; anything else is internal.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Details carries extra machine-readable facts, such as the current
	// status and the allowed transitions of an order.
	Details map[string]any
	// Err is the cause, kept for errors.Is and logs, never shown to clients.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error listing the given field errors.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeValidation, Message: "the request has invalid fields", Fields: fields}
}

// ErrorCode returns the code of err, or CodeInternal when err is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err, or a generic one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "an internal error occurred"
}

// Validator collects field errors while a command is checked.
type Validator struct{ fields []FieldError }

// Check records a field error when ok is false.
func (v *Validator) Check(ok bool, field, message string) {
	if !ok {
		v.fields = append(v.fields, FieldError{Field: field, Message: message})
	}
}

// Err returns the collected validation error, or nil when every check passed.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return Invalid(v.fields...)
}
