package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/internal/sqlfile"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// replayedHeaders are the response headers stored with an idempotent answer.
var replayedHeaders = []string{"Content-Type", "ETag", "Location", "X-Position"}

const maxIdempotencyKey = 200

type capture struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (c *capture) Write(b []byte) (int, error) {
	c.buf.Write(b)
	return c.ResponseWriter.Write(b)
}

// Idempotent makes a command route honour the Idempotency-Key header: the
// first answer below 500 is stored, a retry with the same key and body gets
// it back without running the command, and the same key with another body
// gets 422 idempotency_key_reused. Keys are scoped to the caller.
func (s *Server) Idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if key == "" {
			return next(c)
		}
		if len(key) > maxIdempotencyKey {
			return domain.Invalid(domain.FieldError{Field: "Idempotency-Key", Message: "is too long"})
		}
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return badJSON(err)
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		principal := "anonymous"
		if p, ok := PrincipalOf(c); ok {
			principal = p.UserID.String()
		}
		sum := sha256.Sum256(append([]byte(c.Request().Method+" "+c.Request().URL.Path+"\n"), body...))
		hash := hex.EncodeToString(sum[:])
		ctx := c.Request().Context()
		pool := s.deps.Pool

		claimed := true
		if err := pool.QueryRow(ctx, query("idempotency_claim"), principal, key, hash).Scan(new(string)); err != nil {
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			claimed = false
		}
		if !claimed {
			return s.replay(c, principal, key, hash)
		}

		rec := &capture{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		err = next(c)
		if err != nil {
			s.errorHandler(err, c)
		}
		status := c.Response().Status
		if status >= 500 || status == 0 {
			_, _ = pool.Exec(context.WithoutCancel(ctx), query("idempotency_release"), principal, key)
			return nil
		}
		headers := map[string]string{}
		for _, h := range replayedHeaders {
			if v := c.Response().Header().Get(h); v != "" {
				headers[h] = v
			}
		}
		_, serr := pool.Exec(context.WithoutCancel(ctx), query("idempotency_save"),
			principal, key, status, headers, rec.buf.Bytes())
		if serr != nil {
			s.log.Error("store idempotent answer", "request_id", requestID(c), "error", serr)
		}
		return nil
	}
}

func (s *Server) replay(c echo.Context, principal, key, hash string) error {
	var (
		stored  string
		status  *int
		headers map[string]string
		body    []byte
	)
	err := s.deps.Pool.QueryRow(c.Request().Context(), query("idempotency_get"), principal, key).
		Scan(&stored, &status, &headers, &body)
	if err != nil {
		return err
	}
	if stored != hash {
		return domain.Errorf(domain.CodeIdempotencyReuse,
			"this Idempotency-Key was used for a different request")
	}
	if status == nil {
		return domain.Errorf(domain.CodeConflict,
			"a request with this Idempotency-Key is still in progress; retry shortly")
	}
	for k, v := range headers {
		c.Response().Header().Set(k, v)
	}
	c.Response().Header().Set("Idempotent-Replayed", "true")
	c.Response().WriteHeader(*status)
	_, err = c.Response().Write(body)
	return err
}
