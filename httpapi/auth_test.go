package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"comanda/accounts"
	"comanda/accounts/accountstest"
	"comanda/domain"
	"comanda/eventstore"
	"comanda/httpapi"
	"comanda/internal/apitest"
	"comanda/internal/testkit"
)

var authSecret = []byte("a-test-secret-that-is-32-bytes-long")

const authPassword = "correct horse"

// authEnv is the auth module on a fresh database, mounted the way the engine
// mounts it: Authenticate on the /v1 group before every module.
type authEnv struct {
	api   *apitest.Client
	pool  *pgxpool.Pool
	store *accounts.Store
	// owners maps a business to its owner, standing in for the catalog.
	owners map[uuid.UUID]uuid.UUID
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	return newAuthEnvWith(t, accounts.NewMemoryLimiter(1000, time.Minute, time.Now))
}

func newAuthEnvWith(t *testing.T, limiter accounts.Limiter) *authEnv {
	t.Helper()
	pool, _ := testkit.NewDatabase(t)
	env := &authEnv{pool: pool, store: newAuthStore(pool, time.Now), owners: map[uuid.UUID]uuid.UUID{}}
	env.api = apitest.New(t, env.server(limiter))
	return env
}

// server builds one API instance on the environment's database.
func (e *authEnv) server(limiter accounts.Limiter) http.Handler {
	reg := prometheus.NewRegistry()
	s := httpapi.New(httpapi.Config{}, httpapi.Deps{
		Pool: e.pool, Store: eventstore.New(e.pool), Metrics: reg, Gatherer: reg,
	},
		func(_ *httpapi.Server, api *echo.Group) { api.Use(httpapi.Authenticate(authSecret)) },
		httpapi.AuthModule(httpapi.AuthDeps{
			Accounts: e.store,
			Limiter:  limiter,
			BusinessOwner: func(_ context.Context, business uuid.UUID) (uuid.UUID, error) {
				owner, ok := e.owners[business]
				if !ok {
					return uuid.Nil, domain.Errorf(domain.CodeNotFound, "no such business")
				}
				return owner, nil
			},
		}))
	return s.Handler()
}

func newAuthStore(pool *pgxpool.Pool, now func() time.Time) *accounts.Store {
	return accounts.New(pool, accounts.Config{
		Secret: authSecret, AccessTTL: 15 * time.Minute, Now: now,
		PasswordCost: accounts.PasswordCost{Memory: 1024, Time: 1, Threads: 1},
	})
}

type authAccount struct {
	ID         uuid.UUID   `json:"id"`
	Email      string      `json:"email"`
	Name       string      `json:"name"`
	Role       domain.Role `json:"role"`
	BusinessID *uuid.UUID  `json:"business_id"`
	CreatedAt  time.Time   `json:"created_at"`
}

type authTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// register signs up through the API and returns the new account.
func (e *authEnv) register(t *testing.T, email string, role domain.Role) authAccount {
	t.Helper()
	resp := e.api.Do(http.MethodPost, "/v1/auth/register",
		map[string]any{"email": email, "password": authPassword, "name": "Ana", "role": role})
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	var acc authAccount
	resp.JSON(t, &acc)
	return acc
}

// login signs in through the API and returns the token pair.
func (e *authEnv) login(t *testing.T, email string) authTokens {
	t.Helper()
	resp := e.api.Do(http.MethodPost, "/v1/auth/login",
		map[string]any{"email": email, "password": authPassword})
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var tok authTokens
	resp.JSON(t, &tok)
	return tok
}

// signUp registers and signs in, returning the account and its access token.
func (e *authEnv) signUp(t *testing.T, email string, role domain.Role) (authAccount, string) {
	t.Helper()
	acc := e.register(t, email, role)
	return acc, e.login(t, email).AccessToken
}

// admin creates an admin in the store and returns its access token.
func (e *authEnv) admin(t *testing.T) string {
	t.Helper()
	_, err := e.store.CreateUser(t.Context(), "root@example.com", authPassword, "Root",
		domain.RoleAdmin)
	require.NoError(t, err)
	return e.login(t, "root@example.com").AccessToken
}

func (e *authEnv) refresh(token string) *apitest.Response {
	return e.api.Do(http.MethodPost, "/v1/auth/refresh", map[string]any{"refresh_token": token})
}

func requireAuthProblem(t *testing.T, resp *apitest.Response, status int, code domain.Code) {
	t.Helper()
	require.Equal(t, status, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	require.Equal(t, string(code), resp.Code(t))
}

func authProblemFields(t *testing.T, resp *apitest.Response) []string {
	t.Helper()
	var p httpapi.Problem
	resp.JSON(t, &p)
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	return fields
}

func TestRegister_CreatesAnAccountWithANormalisedEmail(t *testing.T) {
	env := newAuthEnv(t)

	acc := env.register(t, " Ana@Example.com", domain.RoleBusinessOwner)

	require.NotEqual(t, uuid.Nil, acc.ID)
	require.Equal(t, "ana@example.com", acc.Email)
	require.Equal(t, domain.RoleBusinessOwner, acc.Role)
	require.Nil(t, acc.BusinessID)
	require.WithinDuration(t, time.Now(), acc.CreatedAt, time.Minute)
}

func TestRegister_RoleDefaultsToCustomer(t *testing.T) {
	env := newAuthEnv(t)

	resp := env.api.Do(http.MethodPost, "/v1/auth/register",
		map[string]any{"email": "ana@example.com", "password": authPassword, "name": "Ana"})

	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, "customer", resp.Map(t)["role"])
}

func TestRegister_DuplicateEmailIsAConflict(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)

	resp := env.api.Do(http.MethodPost, "/v1/auth/register", map[string]any{
		"email": "ANA@example.com", "password": "another password", "name": "Other"})

	requireAuthProblem(t, resp, http.StatusConflict, domain.CodeConflict)
}

func TestRegister_InvalidFieldsAreListed(t *testing.T) {
	env := newAuthEnv(t)

	resp := env.api.Do(http.MethodPost, "/v1/auth/register",
		map[string]any{"email": "nope", "password": "short", "name": "", "role": "admin"})

	requireAuthProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.ElementsMatch(t, []string{"email", "password", "name", "role"}, authProblemFields(t, resp))
}

func TestRegister_RefusesUnknownFieldsAndOtherMediaTypes(t *testing.T) {
	env := newAuthEnv(t)

	unknown := env.api.Do(http.MethodPost, "/v1/auth/register", map[string]any{
		"email": "ana@example.com", "password": authPassword, "name": "Ana", "admin": true})
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/auth/register", nil)
	req.Header.Set("Content-Type", "text/plain")
	media := env.api.Send(req)

	requireAuthProblem(t, unknown, http.StatusUnprocessableEntity, domain.CodeValidation)
	requireAuthProblem(t, media, http.StatusUnsupportedMediaType, domain.CodeUnsupportedMedia)
}

func TestLogin_ReturnsATokenPair(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)

	resp := env.api.Do(http.MethodPost, "/v1/auth/login",
		map[string]any{"email": "ana@example.com", "password": authPassword})

	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var tok authTokens
	resp.JSON(t, &tok)
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, 900, tok.ExpiresIn)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken)
}

func TestLogin_WrongPasswordAndUnknownEmailAreRefusedAlike(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)

	wrong := env.api.Do(http.MethodPost, "/v1/auth/login",
		map[string]any{"email": "ana@example.com", "password": "wrong horse"})
	unknown := env.api.Do(http.MethodPost, "/v1/auth/login",
		map[string]any{"email": "bob@example.com", "password": authPassword})

	requireAuthProblem(t, wrong, http.StatusUnauthorized, domain.CodeUnauthorized)
	requireAuthProblem(t, unknown, http.StatusUnauthorized, domain.CodeUnauthorized)
	require.Equal(t, wrong.Map(t)["detail"], unknown.Map(t)["detail"])
}

func TestLogin_MissingFieldsAreListed(t *testing.T) {
	env := newAuthEnv(t)

	resp := env.api.Do(http.MethodPost, "/v1/auth/login", map[string]any{"email": " "})

	requireAuthProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.ElementsMatch(t, []string{"email", "password"}, authProblemFields(t, resp))
}

func TestRefresh_RotatesTheRefreshToken(t *testing.T) {
	env := newAuthEnv(t)
	acc := env.register(t, "ana@example.com", domain.RoleCustomer)
	first := env.login(t, "ana@example.com")

	resp := env.refresh(first.RefreshToken)

	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	var second authTokens
	resp.JSON(t, &second)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	me := env.api.As(second.AccessToken).Do(http.MethodGet, "/v1/me", nil)
	require.Equal(t, http.StatusOK, me.Status)
	require.Equal(t, acc.ID.String(), me.Map(t)["id"])
	require.Equal(t, http.StatusOK, env.refresh(second.RefreshToken).Status)
}

func TestRefresh_ReusedTokenRevokesTheWholeFamily(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)
	first := env.login(t, "ana@example.com")
	var second, third authTokens
	env.refresh(first.RefreshToken).JSON(t, &second)
	env.refresh(second.RefreshToken).JSON(t, &third)

	reused := env.refresh(first.RefreshToken)
	newest := env.refresh(third.RefreshToken)

	requireAuthProblem(t, reused, http.StatusUnauthorized, domain.CodeUnauthorized)
	requireAuthProblem(t, newest, http.StatusUnauthorized, domain.CodeUnauthorized)
}

func TestRefresh_MissingTokenIsAValidationError(t *testing.T) {
	env := newAuthEnv(t)

	resp := env.api.Do(http.MethodPost, "/v1/auth/refresh", map[string]any{})

	requireAuthProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"refresh_token"}, authProblemFields(t, resp))
}

func TestRefresh_WorksWithAnExpiredAccessTokenStillAttached(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)
	tok := env.login(t, "ana@example.com")

	resp := env.api.As("expired.or.garbage").Do(http.MethodPost, "/v1/auth/refresh",
		map[string]any{"refresh_token": tok.RefreshToken})

	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
}

func TestLogout_EndsTheSignIn(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)
	tok := env.login(t, "ana@example.com")

	resp := env.api.Do(http.MethodPost, "/v1/auth/logout",
		map[string]any{"refresh_token": tok.RefreshToken})

	require.Equal(t, http.StatusNoContent, resp.Status)
	require.Empty(t, resp.Body)
	requireAuthProblem(t, env.refresh(tok.RefreshToken), http.StatusUnauthorized,
		domain.CodeUnauthorized)
	unknown := env.api.Do(http.MethodPost, "/v1/auth/logout",
		map[string]any{"refresh_token": "not-a-token"})
	requireAuthProblem(t, unknown, http.StatusUnauthorized, domain.CodeUnauthorized)
}

func TestMe_ReturnsTheCallersAccount(t *testing.T) {
	env := newAuthEnv(t)
	acc, token := env.signUp(t, "ana@example.com", domain.RoleCustomer)

	resp := env.api.As(token).Do(http.MethodGet, "/v1/me", nil)

	require.Equal(t, http.StatusOK, resp.Status)
	var got authAccount
	resp.JSON(t, &got)
	require.Equal(t, acc, got)
}

func TestMe_AnonymousCallerIsUnauthorized(t *testing.T) {
	env := newAuthEnv(t)

	resp := env.api.Do(http.MethodGet, "/v1/me", nil)

	requireAuthProblem(t, resp, http.StatusUnauthorized, domain.CodeUnauthorized)
	require.Equal(t, "Bearer", resp.Header.Get("WWW-Authenticate"))
}

func TestMe_ExpiredAccessTokenIsRefused(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)
	earlier := func() time.Time { return time.Now().Add(-time.Hour) }
	past := newAuthStore(env.pool, earlier)
	acc, err := past.Authenticate(t.Context(), "ana@example.com", authPassword)
	require.NoError(t, err)
	pair, err := past.Issue(t.Context(), acc)
	require.NoError(t, err)

	resp := env.api.As(pair.AccessToken).Do(http.MethodGet, "/v1/me", nil)

	requireAuthProblem(t, resp, http.StatusUnauthorized, domain.CodeUnauthorized)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "invalid_token")
}

func TestMe_ForgedOrMalformedAuthorizationIsRefused(t *testing.T) {
	env := newAuthEnv(t)
	env.register(t, "ana@example.com", domain.RoleCustomer)
	forger := accounts.New(env.pool, accounts.Config{
		Secret:       []byte("another-secret-that-is-32-bytes-"),
		PasswordCost: accounts.PasswordCost{Memory: 1024, Time: 1, Threads: 1},
	})
	acc, err := forger.Authenticate(t.Context(), "ana@example.com", authPassword)
	require.NoError(t, err)
	forged, err := forger.Issue(t.Context(), acc)
	require.NoError(t, err)

	for _, header := range []string{"Bearer " + forged.AccessToken, "Bearer garbage",
		"Basic YW5hOnB3"} {
		resp := env.api.Do(http.MethodGet, "/v1/me", nil, "Authorization", header)

		requireAuthProblem(t, resp, http.StatusUnauthorized, domain.CodeUnauthorized)
	}
}

func TestAdminUsers_AdminCreatesAnAuditor(t *testing.T) {
	env := newAuthEnv(t)
	admin := env.admin(t)

	resp := env.api.As(admin).Do(http.MethodPost, "/v1/admin/users", map[string]any{
		"email": "eve@example.com", "password": authPassword, "name": "Eve", "role": "auditor"})

	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "auditor", resp.Map(t)["role"])
	require.NotEmpty(t, env.login(t, "eve@example.com").AccessToken)
}

func TestAdminUsers_OnlyAdminsAndAuditorsCanBeCreatedThere(t *testing.T) {
	env := newAuthEnv(t)
	admin := env.admin(t)

	resp := env.api.As(admin).Do(http.MethodPost, "/v1/admin/users", map[string]any{
		"email": "c@example.com", "password": authPassword, "name": "C", "role": "customer"})

	requireAuthProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"role"}, authProblemFields(t, resp))
}

func TestAdminUsers_RefusedForOtherRolesAndAnonymousCallers(t *testing.T) {
	env := newAuthEnv(t)
	_, owner := env.signUp(t, "owner@example.com", domain.RoleBusinessOwner)
	_, customer := env.signUp(t, "c@example.com", domain.RoleCustomer)
	body := map[string]any{"email": "x@example.com", "password": authPassword, "name": "X",
		"role": "admin"}

	for _, token := range []string{owner, customer} {
		resp := env.api.As(token).Do(http.MethodPost, "/v1/admin/users", body)

		requireAuthProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
	}
	anonymous := env.api.Do(http.MethodPost, "/v1/admin/users", body)
	requireAuthProblem(t, anonymous, http.StatusUnauthorized, domain.CodeUnauthorized)
}

func TestStaff_OwnerAddsStaffWhoActForTheBusiness(t *testing.T) {
	env := newAuthEnv(t)
	ownerAcc, owner := env.signUp(t, "owner@example.com", domain.RoleBusinessOwner)
	business := uuid.New()
	env.owners[business] = ownerAcc.ID

	resp := env.api.As(owner).Do(http.MethodPost, "/v1/businesses/"+business.String()+"/staff",
		map[string]any{"email": "mozo@example.com", "password": authPassword, "name": "Mozo"})

	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	var staff authAccount
	resp.JSON(t, &staff)
	require.Equal(t, domain.RoleStaff, staff.Role)
	require.NotNil(t, staff.BusinessID)
	require.Equal(t, business, *staff.BusinessID)
	me := env.api.As(env.login(t, "mozo@example.com").AccessToken).Do(http.MethodGet, "/v1/me", nil)
	require.Equal(t, http.StatusOK, me.Status)
	require.Equal(t, business.String(), me.Map(t)["business_id"])
}

func TestStaff_AnotherOwnerIsForbidden(t *testing.T) {
	env := newAuthEnv(t)
	ownerAcc, _ := env.signUp(t, "owner@example.com", domain.RoleBusinessOwner)
	_, rival := env.signUp(t, "rival@example.com", domain.RoleBusinessOwner)
	business := uuid.New()
	env.owners[business] = ownerAcc.ID

	resp := env.api.As(rival).Do(http.MethodPost, "/v1/businesses/"+business.String()+"/staff",
		map[string]any{"email": "mozo@example.com", "password": authPassword, "name": "Mozo"})

	requireAuthProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
}

func TestStaff_AdminAddsStaffToAnyBusiness(t *testing.T) {
	env := newAuthEnv(t)
	business := uuid.New()
	env.owners[business] = uuid.New()

	resp := env.api.As(env.admin(t)).Do(http.MethodPost,
		"/v1/businesses/"+business.String()+"/staff",
		map[string]any{"email": "mozo@example.com", "password": authPassword, "name": "Mozo"})

	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
}

func TestStaff_UnknownBusinessIsNotFoundAndOtherRolesAreForbidden(t *testing.T) {
	env := newAuthEnv(t)
	_, owner := env.signUp(t, "owner@example.com", domain.RoleBusinessOwner)
	_, customer := env.signUp(t, "c@example.com", domain.RoleCustomer)
	body := map[string]any{"email": "mozo@example.com", "password": authPassword, "name": "Mozo"}
	path := "/v1/businesses/" + uuid.NewString() + "/staff"

	unknown := env.api.As(owner).Do(http.MethodPost, path, body)
	forbidden := env.api.As(customer).Do(http.MethodPost, path, body)
	anonymous := env.api.Do(http.MethodPost, path, body)
	badID := env.api.As(owner).Do(http.MethodPost, "/v1/businesses/not-a-uuid/staff", body)

	requireAuthProblem(t, unknown, http.StatusNotFound, domain.CodeNotFound)
	requireAuthProblem(t, forbidden, http.StatusForbidden, domain.CodeForbidden)
	requireAuthProblem(t, anonymous, http.StatusUnauthorized, domain.CodeUnauthorized)
	requireAuthProblem(t, badID, http.StatusUnprocessableEntity, domain.CodeValidation)
}

// authLoginFrom attempts a sign-in from the client address addr.
func authLoginFrom(t *testing.T, api *apitest.Client, addr, email string) *apitest.Response {
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/auth/login",
		strings.NewReader(`{"email":"`+email+`","password":"`+authPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	return api.Send(req)
}

func requireAuthRateLimited(t *testing.T, resp *apitest.Response) {
	t.Helper()
	requireAuthProblem(t, resp, http.StatusTooManyRequests, domain.CodeRateLimited)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After: %q", resp.Header.Get("Retry-After"))
	require.Positive(t, secs)
}

func TestLogin_LimitedPerAccountInProcess(t *testing.T) {
	env := newAuthEnvWith(t, accounts.NewMemoryLimiter(3, time.Minute, time.Now))
	env.register(t, "ana@example.com", domain.RoleCustomer)

	for i := range 3 {
		resp := authLoginFrom(t, env.api, "198.51.100."+strconv.Itoa(i+1), "ana@example.com")
		require.Equal(t, http.StatusOK, resp.Status, "attempt %d: %s", i+1, resp.Body)
	}
	resp := authLoginFrom(t, env.api, "198.51.100.9", "ANA@example.com")

	requireAuthRateLimited(t, resp)
}

func TestLogin_LimitedPerClientAddressInProcess(t *testing.T) {
	env := newAuthEnvWith(t, accounts.NewMemoryLimiter(3, time.Minute, time.Now))

	for i := range 3 {
		resp := authLoginFrom(t, env.api, "198.51.100.7", "user"+strconv.Itoa(i)+"@example.com")
		requireAuthProblem(t, resp, http.StatusUnauthorized, domain.CodeUnauthorized)
	}
	limited := authLoginFrom(t, env.api, "198.51.100.7", "someone@example.com")
	elsewhere := authLoginFrom(t, env.api, "198.51.100.8", "someone@example.com")

	requireAuthRateLimited(t, limited)
	requireAuthProblem(t, elsewhere, http.StatusUnauthorized, domain.CodeUnauthorized)
}

func TestLogin_LimitIsSharedByTwoInstancesThroughRedis(t *testing.T) {
	url := accountstest.StartRedis(t)
	pool, _ := testkit.NewDatabase(t)
	env := &authEnv{pool: pool, store: newAuthStore(pool, time.Now), owners: map[uuid.UUID]uuid.UUID{}}
	var instances []*apitest.Client
	for range 2 {
		limiter, closeLimiter, err := accounts.OpenLimiter(t.Context(), accounts.LimiterConfig{
			RedisURL: url, Limit: 3, Window: time.Minute,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = closeLimiter() })
		instances = append(instances, apitest.New(t, env.server(limiter)))
	}
	env.api = instances[0]
	env.register(t, "ana@example.com", domain.RoleCustomer)

	for i := range 3 {
		resp := authLoginFrom(t, instances[i%2], "198.51.100.1", "ana@example.com")
		require.Equal(t, http.StatusOK, resp.Status, "attempt %d: %s", i+1, resp.Body)
	}
	first := authLoginFrom(t, instances[0], "198.51.100.1", "ana@example.com")
	second := authLoginFrom(t, instances[1], "198.51.100.1", "ana@example.com")

	requireAuthRateLimited(t, first)
	requireAuthRateLimited(t, second)
}
