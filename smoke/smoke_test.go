package smoke_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maxRequestTime is the contract of this suite: every request is answered, body included, in
// less than this.
const maxRequestTime = time.Second

var httpClient = &http.Client{Timeout: 10 * time.Second}

// request is one call to the engine.
type request struct {
	method string
	path   string
	token  string
	header http.Header
	body   any
}

// response is a fully read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// mediaType is the answer's Content-Type without parameters.
func (r response) mediaType(t *testing.T) string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	require.NoError(t, err, "Content-Type %q", r.header.Get("Content-Type"))
	return mt
}

// do sends req and reads the whole answer, failing the test when that takes maxRequestTime
// or longer.
func do(t *testing.T, req request) response {
	t.Helper()
	var body io.Reader
	if req.body != nil {
		raw, ok := req.body.([]byte)
		if !ok {
			var err error
			raw, err = json.Marshal(req.body)
			require.NoError(t, err)
		}
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequestWithContext(t.Context(), req.method, baseURL+req.path, body)
	require.NoError(t, err)
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if req.body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}

	start := time.Now()
	resp, err := httpClient.Do(hr)
	require.NoError(t, err, "%s %s", req.method, req.path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	elapsed := time.Since(start)
	require.NoError(t, err, "%s %s: read the answer", req.method, req.path)
	require.Less(t, elapsed, maxRequestTime, "%s %s took %s", req.method, req.path, elapsed)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// callJSON sends req, requires status want and a JSON answer (problem+json for errors), and
// decodes the answer into out when out is not nil.
func callJSON(t *testing.T, req request, want int, out any) response {
	t.Helper()
	resp := do(t, req)
	require.Equal(t, want, resp.status, "%s %s answered: %s", req.method, req.path, resp.body)
	wantType := "application/json"
	if want >= 400 {
		wantType = "application/problem+json"
	}
	require.Equal(t, wantType, resp.mediaType(t), "%s %s", req.method, req.path)
	if out != nil {
		require.NoError(t, json.Unmarshal(resp.body, out), "%s %s: %s", req.method, req.path, resp.body)
	}
	return resp
}

// uniqueEmail is an address no earlier run used, so the suite can run against a shared engine.
func uniqueEmail(t *testing.T, who string) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return who + "-" + hex.EncodeToString(b) + "@smoke.example"
}

// signUp registers an account with role and returns its access token.
func signUp(t *testing.T, role string) string {
	t.Helper()
	email, password := uniqueEmail(t, strings.ReplaceAll(role, "_", "-")), "smoke-test-password"
	var account struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	callJSON(t, request{method: http.MethodPost, path: "/v1/auth/register", body: map[string]any{
		"email": email, "password": password, "name": "Smoke test", "role": role,
	}}, http.StatusCreated, &account)
	require.NotEmpty(t, account.ID)
	require.Equal(t, email, account.Email)
	require.Equal(t, role, account.Role)

	var tokens struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	callJSON(t, request{method: http.MethodPost, path: "/v1/auth/login", body: map[string]any{
		"email": email, "password": password,
	}}, http.StatusOK, &tokens)
	require.NotEmpty(t, tokens.AccessToken)
	require.Equal(t, "Bearer", tokens.TokenType)
	return tokens.AccessToken
}

func minPosition(p int64) http.Header {
	return http.Header{"X-Min-Position": {strconv.FormatInt(p, 10)}}
}

func TestHealth_ReportsTheDatabaseOK(t *testing.T) {
	var health struct {
		Status   string `json:"status"`
		Database string `json:"database"`
	}
	callJSON(t, request{method: http.MethodGet, path: "/health"}, http.StatusOK, &health)
	require.Equal(t, "ok", health.Status)
	require.Equal(t, "ok", health.Database)
}

func TestOpenAPI_IsAnOpenAPI3Document(t *testing.T) {
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Info    map[string]any `json:"info"`
		Paths   map[string]any `json:"paths"`
	}
	callJSON(t, request{method: http.MethodGet, path: "/openapi.json"}, http.StatusOK, &doc)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "openapi is %q", doc.OpenAPI)
	require.NotEmpty(t, doc.Info["title"])
	require.Contains(t, doc.Paths, "/v1/orders")
	require.Contains(t, doc.Paths, "/v1/auth/login")
}

func TestDocs_IsAnHTMLPage(t *testing.T) {
	resp := do(t, request{method: http.MethodGet, path: "/docs"})
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "text/html", resp.mediaType(t))
	require.Contains(t, strings.ToLower(string(resp.body)), "<html")
}

func TestErrors_AreProblemJSON(t *testing.T) {
	var problem struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
		Code   string `json:"code"`
	}

	t.Run("malformed body", func(t *testing.T) {
		callJSON(t, request{method: http.MethodPost, path: "/v1/auth/register",
			body: []byte(`{"email": "not an address", "password": 1`)},
			http.StatusUnprocessableEntity, &problem)
		require.Equal(t, http.StatusUnprocessableEntity, problem.Status)
		require.NotEmpty(t, problem.Title)
		require.NotEmpty(t, problem.Code)
	})

	t.Run("no token", func(t *testing.T) {
		resp := callJSON(t, request{method: http.MethodPost, path: "/v1/orders", body: map[string]any{}},
			http.StatusUnauthorized, &problem)
		require.Equal(t, http.StatusUnauthorized, problem.Status)
		require.NotEmpty(t, problem.Code)
		require.NotEmpty(t, resp.header.Get("X-Request-Id"))
	})
}

func TestOrder_PlacedByACustomerIsReadBack(t *testing.T) {
	owner := signUp(t, "business_owner")
	customer := signUp(t, "customer")

	var business struct {
		ID string `json:"id"`
	}
	callJSON(t, request{method: http.MethodPost, path: "/v1/businesses", token: owner, body: map[string]any{
		"name": "Smoke test kitchen", "currency": "ARS", "open": true,
		"delivery_fee": map[string]any{"amount": 50000, "currency": "ARS"},
	}}, http.StatusCreated, &business)
	require.NotEmpty(t, business.ID)

	var product struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	}
	callJSON(t, request{method: http.MethodPost, path: "/v1/businesses/" + business.ID + "/products",
		token: owner, body: map[string]any{
			"name": "Empanada", "price": map[string]any{"amount": 150000, "currency": "ARS"},
			"available": true,
		}}, http.StatusCreated, &product)
	require.NotEmpty(t, product.ID)
	require.Positive(t, product.Position)

	// Orders are priced from the catalog read model: wait until it has the product.
	callJSON(t, request{method: http.MethodGet, path: "/v1/products/" + product.ID, token: customer,
		header: minPosition(product.Position)}, http.StatusOK, nil)

	var placed struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Position int64  `json:"position"`
	}
	resp := callJSON(t, request{method: http.MethodPost, path: "/v1/orders", token: customer,
		body: map[string]any{
			"business_id": business.ID, "fulfillment": "pickup", "payment_method": "cash",
			"lines": []map[string]any{{"product_id": product.ID, "quantity": 2}},
		}}, http.StatusCreated, &placed)
	require.NotEmpty(t, placed.ID)
	require.Equal(t, "placed", placed.Status)
	require.Equal(t, strconv.FormatInt(placed.Position, 10), resp.header.Get("X-Position"))

	var read struct {
		ID         string `json:"id"`
		BusinessID string `json:"business_id"`
		Status     string `json:"status"`
		Lines      []struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		} `json:"lines"`
	}
	callJSON(t, request{method: http.MethodGet, path: "/v1/orders/" + placed.ID, token: customer,
		header: minPosition(placed.Position)}, http.StatusOK, &read)
	require.Equal(t, placed.ID, read.ID)
	require.Equal(t, business.ID, read.BusinessID)
	require.Equal(t, "placed", read.Status)
	require.Len(t, read.Lines, 1)
	require.Equal(t, product.ID, read.Lines[0].ProductID)
	require.Equal(t, 2, read.Lines[0].Quantity)
}
