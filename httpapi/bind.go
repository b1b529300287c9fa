package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"comanda/domain"
)

func badJSON(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return &domain.Error{Code: domain.CodeTooLarge, Message: "the request body is too large"}
	}
	return &domain.Error{
		Code:    domain.CodeValidation,
		Message: "the request body is not valid JSON for this route: " + err.Error(),
		Fields:  []domain.FieldError{{Field: "body", Message: err.Error()}},
	}
}

// bindJSON decodes a JSON request body strictly into v.
func bindJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &domain.Error{Code: domain.CodeUnsupportedMedia,
			Message: "send the request body as application/json"}
	}
	limit := int64(1 << 20)
	if s, ok := c.Get(serverKey).(*Server); ok {
		limit = s.cfg.MaxBodyBytes
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, limit)
	return c.Echo().JSONSerializer.Deserialize(c, v)
}

// ifMatch returns the stream version a client sent in If-Match, or -1.
func ifMatch(c echo.Context) (int64, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return -1, nil
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 0 {
		return 0, domain.Invalid(domain.FieldError{Field: "If-Match",
			Message: "must be the quoted stream version from an ETag, such as \"3\""})
	}
	return v, nil
}

// setWritten adds the headers every command response carries.
func setWritten(c echo.Context, version, position int64) {
	h := c.Response().Header()
	h.Set("ETag", fmt.Sprintf(`"%d"`, version))
	h.Set("X-Position", strconv.FormatInt(position, 10))
}

// minPosition returns the position a read asked to wait for, or 0.
func minPosition(c echo.Context) (int64, error) {
	raw := c.Request().Header.Get("X-Min-Position")
	if q := c.QueryParam("min_position"); q != "" {
		raw = q
	}
	if raw == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < 0 {
		return 0, domain.Invalid(domain.FieldError{Field: "min_position",
			Message: "must be a non-negative whole number"})
	}
	return v, nil
}

// awaitProjection makes a read wait until the named projection has applied
// the position the client asked for, or fails with projection_lagging.
func (s *Server) awaitProjection(c echo.Context, name string) error {
	pos, err := minPosition(c)
	if err != nil || pos == 0 || s.deps.Projections == nil {
		return err
	}
	p, ok := s.deps.Projections.Get(name)
	if !ok {
		return fmt.Errorf("BUG: no projection named %s", name)
	}
	return p.WaitFor(c.Request().Context(), pos, s.cfg.ReadWait)
}
