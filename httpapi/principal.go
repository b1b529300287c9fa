package httpapi

import (
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"comanda/domain"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID uuid.UUID
	Role   domain.Role
	// BusinessID is the business a staff account acts for; uuid.Nil otherwise.
	BusinessID uuid.UUID
}

const (
	principalKey = "comanda.principal"
	serverKey    = "comanda.server"
)

// SetPrincipal stores the authenticated caller in the request context; the
// authentication middleware calls it.
func SetPrincipal(c echo.Context, p Principal) { c.Set(principalKey, p) }

// PrincipalOf returns the authenticated caller, if any.
func PrincipalOf(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// mustPrincipal returns the caller or an unauthorized error.
func mustPrincipal(c echo.Context) (Principal, error) {
	p, ok := PrincipalOf(c)
	if !ok {
		return Principal{}, domain.Errorf(domain.CodeUnauthorized, "sign in to use this route")
	}
	return p, nil
}

// Actor returns the caller in the domain's terms.
func (p Principal) Actor() domain.Actor {
	biz := ""
	if p.BusinessID != uuid.Nil {
		biz = p.BusinessID.String()
	}
	return domain.Actor{ID: p.UserID.String(), Role: p.Role, BusinessID: biz}
}
