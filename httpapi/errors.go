package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/eventstore"
)

// statusOf maps each error code to its one HTTP status.
var statusOf = map[domain.Code]int{
	domain.CodeValidation:        http.StatusUnprocessableEntity,
	domain.CodeNotFound:          http.StatusNotFound,
	domain.CodeUnauthorized:      http.StatusUnauthorized,
	domain.CodeForbidden:         http.StatusForbidden,
	domain.CodeConflict:          http.StatusConflict,
	domain.CodeVersionConflict:   http.StatusConflict,
	domain.CodeInvalidTransition: http.StatusConflict,
	domain.CodeRateLimited:       http.StatusTooManyRequests,
	domain.CodeIdempotencyReuse:  http.StatusUnprocessableEntity,
	domain.CodeProjectionLagging: http.StatusServiceUnavailable,
	domain.CodeUnsupportedMedia:  http.StatusUnsupportedMediaType,
	domain.CodeTooLarge:          http.StatusRequestEntityTooLarge,
	domain.CodeBadGateway:        http.StatusBadGateway,
	domain.CodeInternal:          http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem document with the engine's stable code.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail"`
	Code     domain.Code         `json:"code"`
	Instance string              `json:"instance,omitempty"`
	Errors   []domain.FieldError `json:"errors,omitempty"`
	Details  map[string]any      `json:"details,omitempty"`
}

// problemFor turns any error into a problem document. Errors that are not a
// *domain.Error become a generic internal error; their text is never shown.
func problemFor(err error) (Problem, error) {
	var (
		de *domain.Error
		he *echo.HTTPError
	)
	switch {
	case errors.As(err, &de):
	case errors.Is(err, eventstore.ErrConcurrency):
		de = &domain.Error{Code: domain.CodeVersionConflict,
			Message: "the resource was changed by someone else; reload it and try again"}
	case errors.As(err, &he):
		de = fromEchoError(he)
	default:
		de = &domain.Error{Code: domain.CodeInternal, Message: "an internal error occurred"}
	}
	status, ok := statusOf[de.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return Problem{
		Type:    "https://comanda.dev/problems/" + string(de.Code),
		Title:   http.StatusText(status),
		Status:  status,
		Detail:  de.Message,
		Code:    de.Code,
		Errors:  de.Fields,
		Details: de.Details,
	}, err
}

func fromEchoError(he *echo.HTTPError) *domain.Error {
	msg, _ := he.Message.(string)
	code := domain.CodeInternal
	switch he.Code {
	case http.StatusNotFound:
		code, msg = domain.CodeNotFound, "no such route"
	case http.StatusMethodNotAllowed:
		code, msg = domain.CodeNotFound, "the route does not accept this method"
	case http.StatusRequestEntityTooLarge:
		code, msg = domain.CodeTooLarge, "the request body is too large"
	case http.StatusUnauthorized:
		code = domain.CodeUnauthorized
	case http.StatusForbidden:
		code = domain.CodeForbidden
	case http.StatusUnsupportedMediaType:
		code = domain.CodeUnsupportedMedia
	case http.StatusBadRequest:
		code = domain.CodeValidation
	case http.StatusTooManyRequests:
		code = domain.CodeRateLimited
	}
	if msg == "" {
		msg = http.StatusText(he.Code)
	}
	return &domain.Error{Code: code, Message: msg}
}

// errorHandler writes every failed request as problem+json and logs internal
// errors once, here at the edge.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, cause := problemFor(err)
	p.Instance = c.Request().URL.Path
	if p.Status >= 500 && p.Code != domain.CodeProjectionLagging {
		s.log.Error("request failed", "request_id", requestID(c), "route", c.Path(),
			"method", c.Request().Method, "error", cause)
	}
	if p.Code == domain.CodeProjectionLagging {
		c.Response().Header().Set("Retry-After", strconv.Itoa(1))
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	if werr := jsonEncode(c.Response(), p); werr != nil {
		s.log.Debug("write problem", slog.String("error", werr.Error()))
	}
}
