// Package apitest drives the HTTP API in tests and checks every request and
// response against the OpenAPI document, so the document cannot drift from
// the code. It is for tests only.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"comanda/httpapi"
)

// Client sends requests to an API handler and validates the answers.
type Client struct {
	t       testing.TB
	handler http.Handler
	router  routers.Router
	// Token, when set, is sent as a bearer token.
	Token string
	// Header is added to every request.
	Header http.Header
}

// New returns a client for handler.
func New(t testing.TB, handler http.Handler) *Client {
	t.Helper()
	doc, err := httpapi.Spec()
	require.NoError(t, err, "the OpenAPI document must load and validate")
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &Client{t: t, handler: handler, router: router, Header: http.Header{}}
}

// As returns a copy of the client that sends token.
func (c *Client) As(token string) *Client {
	cp := *c
	cp.Token = token
	cp.Header = c.Header.Clone()
	return &cp
}

// Response is a recorded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on bad JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// Map decodes the body into a map.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Code returns the problem code of an error response.
func (r *Response) Code(t testing.TB) string {
	t.Helper()
	m := r.Map(t)
	code, _ := m["code"].(string)
	return code
}

// Do sends a request with a JSON body (nil for none) and extra headers
// given as name, value pairs.
func (c *Client) Do(method, path string, body any, headers ...string) *Response {
	c.t.Helper()
	var raw []byte
	if body != nil {
		switch b := body.(type) {
		case []byte:
			raw = b
		case string:
			raw = []byte(b)
		default:
			var err error
			raw, err = json.Marshal(body)
			require.NoError(c.t, err)
		}
	}
	req := httptest.NewRequestWithContext(context.Background(), method, path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Send(req, headers...)
}

// Send sends a prepared request, then validates request and response.
func (c *Client) Send(req *http.Request, headers ...string) *Response {
	c.t.Helper()
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.Token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)
	resp := &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	c.validate(req, resp)
	return resp
}

// validate fails the test when the route, the status or the body of the
// response is not what the OpenAPI document says. Requests are not
// validated: tests send bad input on purpose.
func (c *Client) validate(req *http.Request, resp *Response) {
	c.t.Helper()
	route, params, err := c.router.FindRoute(req)
	require.NoError(c.t, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			IncludeResponseStatus: true,
		},
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.Status,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(resp.Body)),
		Options:                in.Options,
	}
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "text/html") {
		out.Options = &openapi3filter.Options{ExcludeResponseBody: true, IncludeResponseStatus: true}
	}
	err = openapi3filter.ValidateResponse(context.Background(), out)
	require.NoError(c.t, err, "%s %s answered %d, which the OpenAPI document does not describe: %s",
		req.Method, req.URL.Path, resp.Status, truncate(resp.Body))
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// Spec returns the API's OpenAPI document.
func Spec(t testing.TB) *openapi3.T {
	doc, err := httpapi.Spec()
	require.NoError(t, err)
	return doc
}
