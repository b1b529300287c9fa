package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"

	"comanda/accounts"
	"comanda/domain"
)

// AuthDeps are what the authentication routes are built from.
type AuthDeps struct {
	// Accounts keeps accounts and issues tokens.
	Accounts *accounts.Store
	// Limiter limits sign-in attempts, per email and per client address.
	Limiter accounts.Limiter
	// BusinessOwner returns the id of the owner of a business, or a
	// *domain.Error with code not_found when there is no such business. The
	// catalog supplies it; while it is nil, every business is unknown.
	BusinessOwner func(ctx context.Context, businessID uuid.UUID) (ownerID uuid.UUID, err error)
}

// AuthModule adds the routes that register accounts, sign in and out,
// refresh tokens, show the caller's account, and create admin, auditor and
// staff accounts. It mounts no middleware: Authenticate must already run on
// the API group for the routes that need a caller.
func AuthModule(a AuthDeps) Module {
	if a.Accounts == nil || a.Limiter == nil {
		panic("BUG: AuthModule needs AuthDeps.Accounts and AuthDeps.Limiter")
	}
	h := &authHandlers{deps: a}
	return func(_ *Server, api *echo.Group) {
		api.POST("/auth/register", h.register)
		api.POST("/auth/login", h.login)
		api.POST("/auth/refresh", h.refresh)
		api.POST("/auth/logout", h.logout)
		api.GET("/me", h.me, RequireRole())
		api.POST("/admin/users", h.createUser, RequireRole(domain.RoleAdmin))
		api.POST("/businesses/:id/staff", h.createStaff,
			RequireRole(domain.RoleBusinessOwner, domain.RoleAdmin))
	}
}

// authPathPrefix is where credentials are exchanged for tokens. Authenticate
// ignores the Authorization header there, so a client whose access token has
// expired can still refresh it or sign in again.
const authPathPrefix = "/v1/auth/"

// principalTokenKey is where the JWT middleware leaves the parsed caller.
const principalTokenKey = "comanda.access_token"

// Authenticate returns the middleware that reads an "Authorization: Bearer"
// access token signed with secret and records its holder with SetPrincipal.
// A request without the header goes on anonymously, and each route decides
// whether it needs a caller (see RequireRole); a token that is malformed,
// badly signed or expired is refused with 401 unauthorized. Routes under
// /v1/auth/ ignore the header.
//
// Mount it once on the API group, before the modules add their routes.
func Authenticate(secret []byte) echo.MiddlewareFunc { return authenticate(secret, time.Now) }

func authenticate(secret []byte, now func() time.Time) echo.MiddlewareFunc {
	if len(secret) == 0 {
		panic("BUG: Authenticate needs the secret that signs access tokens")
	}
	return echojwt.WithConfig(echojwt.Config{
		Skipper: func(c echo.Context) bool {
			req := c.Request()
			return req.Header.Get(echo.HeaderAuthorization) == "" ||
				strings.HasPrefix(req.URL.Path, authPathPrefix)
		},
		ContextKey: principalTokenKey,
		ParseTokenFunc: func(_ echo.Context, token string) (any, error) {
			claims, err := accounts.ParseAccessToken(secret, token, now())
			if err != nil {
				return nil, err
			}
			return Principal{UserID: claims.AccountID, Role: claims.Role,
				BusinessID: claims.BusinessID}, nil
		},
		SuccessHandler: func(c echo.Context) {
			if p, ok := c.Get(principalTokenKey).(Principal); ok {
				SetPrincipal(c, p)
			}
		},
		ErrorHandler: func(c echo.Context, err error) error {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
			var de *domain.Error
			if errors.As(err, &de) {
				return de
			}
			return &domain.Error{Code: domain.CodeUnauthorized,
				Message: "send the access token as \"Authorization: Bearer <token>\"", Err: err}
		},
	})
}

// RequireRole returns middleware that lets through only a signed-in caller
// with one of roles, or any signed-in caller when roles is empty. An
// anonymous caller gets 401 unauthorized, another role 403 forbidden.
func RequireRole(roles ...domain.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := mustPrincipal(c)
			if err != nil {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
				return err
			}
			if len(roles) > 0 && !slices.Contains(roles, p.Role) {
				return domain.Errorf(domain.CodeForbidden,
					"this route is not open to the %s role", p.Role)
			}
			return next(c)
		}
	}
}

type authHandlers struct{ deps AuthDeps }

type accountJSON struct {
	ID         uuid.UUID   `json:"id"`
	Email      string      `json:"email"`
	Name       string      `json:"name"`
	Role       domain.Role `json:"role"`
	BusinessID *uuid.UUID  `json:"business_id,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
}

func toAccountJSON(a accounts.Account) accountJSON {
	out := accountJSON{ID: a.ID, Email: a.Email, Name: a.Name, Role: a.Role,
		CreatedAt: a.CreatedAt}
	if a.BusinessID != uuid.Nil {
		out.BusinessID = &a.BusinessID
	}
	return out
}

type tokenPairJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// writeTokens answers with a token pair, which no cache may keep.
func writeTokens(c echo.Context, p accounts.TokenPair) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, tokenPairJSON{AccessToken: p.AccessToken,
		RefreshToken: p.RefreshToken, TokenType: "Bearer", ExpiresIn: int64(p.ExpiresIn.Seconds())})
}

type registerRequest struct {
	Email    string      `json:"email"`
	Password string      `json:"password"`
	Name     string      `json:"name"`
	Role     domain.Role `json:"role"`
}

func (h *authHandlers) register(c echo.Context) error {
	var req registerRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Role == "" {
		req.Role = domain.RoleCustomer
	}
	acc, err := h.deps.Accounts.Register(c.Request().Context(), req.Email, req.Password, req.Name,
		req.Role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAccountJSON(acc))
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (h *authHandlers) login(c echo.Context) error {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	var v domain.Validator
	v.Check(strings.TrimSpace(req.Email) != "", "email", "is required")
	v.Check(req.Password != "", "password", "is required")
	if err := v.Err(); err != nil {
		return err
	}

	ctx := c.Request().Context()
	if err := h.limitLogin(c, req.Email); err != nil {
		return err
	}
	acc, err := h.deps.Accounts.Authenticate(ctx, req.Email, req.Password)
	if err != nil {
		return err
	}
	pair, err := h.deps.Accounts.Issue(ctx, acc)
	if err != nil {
		return err
	}
	return writeTokens(c, pair)
}

// limitLogin counts a sign-in attempt against the client's address and
// against the account. The email is hashed so that the limiter's store (Redis)
// never holds it.
func (h *authHandlers) limitLogin(c echo.Context, email string) error {
	sum := sha256.Sum256([]byte(accounts.NormalizeEmail(email)))
	keys := []string{
		"login:addr:" + c.RealIP(),
		"login:account:" + hex.EncodeToString(sum[:16]),
	}
	for _, key := range keys {
		ok, wait, err := h.deps.Limiter.Allow(c.Request().Context(), key)
		if err != nil {
			return err
		}
		if !ok {
			secs := max(1, int64(math.Ceil(wait.Seconds())))
			c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			return &domain.Error{Code: domain.CodeRateLimited,
				Message: "too many sign-in attempts; wait before trying again",
				Details: map[string]any{"retry_after_seconds": secs}}
		}
	}
	return nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// bindRefresh decodes a body holding a refresh token.
func bindRefresh(c echo.Context) (string, error) {
	var req refreshRequest
	if err := bindJSON(c, &req); err != nil {
		return "", err
	}
	if req.RefreshToken == "" {
		return "", domain.Invalid(domain.FieldError{Field: "refresh_token", Message: "is required"})
	}
	return req.RefreshToken, nil
}

func (h *authHandlers) refresh(c echo.Context) error {
	token, err := bindRefresh(c)
	if err != nil {
		return err
	}
	pair, err := h.deps.Accounts.Refresh(c.Request().Context(), token)
	if err != nil {
		return err
	}
	return writeTokens(c, pair)
}

func (h *authHandlers) logout(c echo.Context) error {
	token, err := bindRefresh(c)
	if err != nil {
		return err
	}
	if err := h.deps.Accounts.Logout(c.Request().Context(), token); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *authHandlers) me(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	acc, err := h.deps.Accounts.Get(c.Request().Context(), p.UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(acc))
}

type createUserRequest struct {
	Email    string      `json:"email"`
	Password string      `json:"password"`
	Name     string      `json:"name"`
	Role     domain.Role `json:"role"`
}

func (h *authHandlers) createUser(c echo.Context) error {
	var req createUserRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	acc, err := h.deps.Accounts.CreateUser(c.Request().Context(), req.Email, req.Password,
		req.Name, req.Role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAccountJSON(acc))
}

type createStaffRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (h *authHandlers) createStaff(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	business, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return domain.Invalid(domain.FieldError{Field: "id", Message: "must be a business id (a UUID)"})
	}
	var req createStaffRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}

	ctx := c.Request().Context()
	owner, err := h.businessOwner(ctx, business)
	if err != nil {
		return err
	}
	if p.Role != domain.RoleAdmin && p.UserID != owner {
		return domain.Errorf(domain.CodeForbidden,
			"only the owner of the business or an admin may add its staff")
	}
	acc, err := h.deps.Accounts.CreateStaff(ctx, business, req.Email, req.Password, req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAccountJSON(acc))
}

func (h *authHandlers) businessOwner(ctx context.Context, business uuid.UUID) (uuid.UUID, error) {
	if h.deps.BusinessOwner == nil {
		return uuid.Nil, domain.Errorf(domain.CodeNotFound, "no such business")
	}
	return h.deps.BusinessOwner(ctx, business)
}
