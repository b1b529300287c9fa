package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"comanda/domain"
)

// pageCursor is the opaque cursor of a list: the sort key of the last row.
type pageCursor struct {
	At  time.Time `json:"t"`
	ID  uuid.UUID `json:"i"`
	Pos int64     `json:"p,omitempty"`
}

func (p pageCursor) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

// listParams reads limit and cursor; limit defaults to 50, at most 200.
func listParams(c echo.Context) (int, *pageCursor, error) {
	limit := 50
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 200 {
			return 0, nil, domain.Invalid(domain.FieldError{Field: "limit",
				Message: "must be a whole number from 1 to 200"})
		}
		limit = n
	}
	raw := c.QueryParam("cursor")
	if raw == "" {
		return limit, nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var cur pageCursor
	if err == nil {
		err = json.Unmarshal(b, &cur)
	}
	if err != nil {
		return 0, nil, domain.Invalid(domain.FieldError{Field: "cursor",
			Message: "is not a cursor this API returned"})
	}
	return limit, &cur, nil
}

// listResponse is the shape of every list.
type listResponse[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](items []T, limit int, last func(T) pageCursor) listResponse[T] {
	out := listResponse[T]{Items: items}
	if len(items) == limit && limit > 0 {
		s := last(items[len(items)-1]).encode()
		out.NextCursor = &s
	}
	return out
}

// pathID parses a UUID path parameter; a malformed one is simply not found.
func pathID(c echo.Context, name, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, domain.Errorf(domain.CodeNotFound, "no such %s", what)
	}
	return id, nil
}

func queryBool(c echo.Context, name string) (*bool, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return nil, domain.Invalid(domain.FieldError{Field: name, Message: "must be true or false"})
	}
	return &v, nil
}
