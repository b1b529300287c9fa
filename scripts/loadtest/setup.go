package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// setupConfig is what setup is asked to prepare.
type setupConfig struct {
	base      string
	out       string
	customers int
	products  int
	parallel  int
}

// runSetup prepares the engine at --base and writes, in --out:
//
//	create-order.http  one POST /v1/orders per customer, round robin over the products
//	get-order.http     one GET /v1/orders/{id} per customer, for an order already projected
//	bodies/            the JSON bodies the POST targets point to
func runSetup(ctx context.Context, args []string) error {
	var cfg setupConfig
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.StringVar(&cfg.base, "base", "", "base URL of the engine, such as http://127.0.0.1:8080")
	fs.StringVar(&cfg.out, "out", "", "directory for the target files (created when missing)")
	fs.IntVar(&cfg.customers, "customers", 50, "customers to register and sign in")
	fs.IntVar(&cfg.products, "products", 4, "products of the business")
	fs.IntVar(&cfg.parallel, "parallel", 4, "requests in flight while preparing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.base == "" || cfg.out == "" {
		return errors.New("setup: --base and --out are required")
	}
	if cfg.customers < 1 || cfg.products < 1 || cfg.parallel < 1 {
		return errors.New("setup: --customers, --products and --parallel must be at least 1")
	}
	cfg.base = strings.TrimRight(cfg.base, "/")
	out, err := filepath.Abs(cfg.out)
	if err != nil {
		return err
	}
	cfg.out = out

	c := &client{base: cfg.base, http: &http.Client{Timeout: 30 * time.Second}}
	return prepare(ctx, c, cfg)
}

// customer is a signed-in customer and the order placed for the read target.
type customer struct {
	token   string
	orderID string
}

func prepare(ctx context.Context, c *client, cfg setupConfig) error {
	run := randomHex(6)
	owner, err := c.signUp(ctx, fmt.Sprintf("owner-%s@loadtest.example", run), "business_owner")
	if err != nil {
		return err
	}

	var biz struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, http.MethodPost, "/v1/businesses", owner, nil, map[string]any{
		"name": "Load test " + run, "currency": "ARS", "open": true,
		"delivery_fee": money(50000),
	}, http.StatusCreated, &biz); err != nil {
		return fmt.Errorf("create the business: %w", err)
	}

	products := make([]string, cfg.products)
	var last int64
	for i := range products {
		var p struct {
			ID       string `json:"id"`
			Position int64  `json:"position"`
		}
		if err := c.call(ctx, http.MethodPost, "/v1/businesses/"+biz.ID+"/products", owner, nil,
			map[string]any{"name": fmt.Sprintf("Product %d", i+1), "price": money(150000 + 10000*int64(i)),
				"available": true}, http.StatusCreated, &p); err != nil {
			return fmt.Errorf("add a product: %w", err)
		}
		products[i], last = p.ID, p.Position
	}
	// Orders are priced from the catalog read model, so it must have the products first.
	if err := c.call(ctx, http.MethodGet, "/v1/products/"+products[len(products)-1], owner,
		minPosition(last), nil, http.StatusOK, nil); err != nil {
		return fmt.Errorf("wait for the catalog: %w", err)
	}

	bodies, err := writeBodies(cfg.out, biz.ID, products)
	if err != nil {
		return err
	}
	customers, err := c.customers(ctx, run, cfg.customers, cfg.parallel, bodies)
	if err != nil {
		return err
	}
	if err := writeTargets(cfg.out, cfg.base, customers, bodies); err != nil {
		return err
	}
	fmt.Printf("prepared %d customers, %d products and %d orders in %s\n",
		len(customers), len(products), len(customers), cfg.out)
	return nil
}

// customers registers n customers, signs each in, places one order for each and reads it back
// once the orders read model has it, n at a time in parallel.
func (c *client) customers(ctx context.Context, run string, n, parallel int,
	bodies []string) ([]customer, error) {
	out := make([]customer, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = c.customer(ctx, fmt.Sprintf("customer-%s-%d@loadtest.example", run, i),
				bodies[i%len(bodies)])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *client) customer(ctx context.Context, email, bodyFile string) (customer, error) {
	token, err := c.signUp(ctx, email, "customer")
	if err != nil {
		return customer{}, err
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return customer{}, err
	}
	var o struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	}
	if err := c.call(ctx, http.MethodPost, "/v1/orders", token, nil, json.RawMessage(body),
		http.StatusCreated, &o); err != nil {
		return customer{}, fmt.Errorf("place an order: %w", err)
	}
	if err := c.call(ctx, http.MethodGet, "/v1/orders/"+o.ID, token, minPosition(o.Position), nil,
		http.StatusOK, nil); err != nil {
		return customer{}, fmt.Errorf("read the order back: %w", err)
	}
	return customer{token: token, orderID: o.ID}, nil
}

// signUp registers an account with role and returns its access token.
func (c *client) signUp(ctx context.Context, email, role string) (string, error) {
	const password = "load-test-password"
	if err := c.call(ctx, http.MethodPost, "/v1/auth/register", "", nil, map[string]any{
		"email": email, "password": password, "name": "Load test", "role": role,
	}, http.StatusCreated, nil); err != nil {
		return "", fmt.Errorf("register a %s: %w", role, err)
	}
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.call(ctx, http.MethodPost, "/v1/auth/login", "", nil, map[string]any{
		"email": email, "password": password,
	}, http.StatusOK, &tokens); err != nil {
		return "", fmt.Errorf("sign in a %s: %w", role, err)
	}
	if tokens.AccessToken == "" {
		return "", fmt.Errorf("sign in a %s: no access token in the answer", role)
	}
	return tokens.AccessToken, nil
}

// writeBodies writes one order body per product and returns their absolute paths.
func writeBodies(out, businessID string, products []string) ([]string, error) {
	dir := filepath.Join(out, "bodies")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	paths := make([]string, len(products))
	for i, id := range products {
		body, err := json.Marshal(map[string]any{
			"business_id": businessID, "fulfillment": "pickup", "payment_method": "cash",
			"lines": []map[string]any{{"product_id": id, "quantity": 2}},
		})
		if err != nil {
			return nil, err
		}
		paths[i] = filepath.Join(dir, fmt.Sprintf("order-%d.json", i))
		if err := os.WriteFile(paths[i], body, 0o644); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// writeTargets writes the vegeta targets in its HTTP format: a request line, headers, an
// optional @body file, and a blank line between targets.
func writeTargets(out, base string, customers []customer, bodies []string) error {
	var create, get bytes.Buffer
	for i, cu := range customers {
		fmt.Fprintf(&create, "POST %s/v1/orders\nAuthorization: Bearer %s\n"+
			"Content-Type: application/json\n@%s\n\n", base, cu.token, bodies[i%len(bodies)])
		fmt.Fprintf(&get, "GET %s/v1/orders/%s\nAuthorization: Bearer %s\n\n", base, cu.orderID, cu.token)
	}
	if err := os.WriteFile(filepath.Join(out, "create-order.http"), create.Bytes(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "get-order.http"), get.Bytes(), 0o600)
}

// client calls the engine's JSON API.
type client struct {
	base string
	http *http.Client
}

// call sends in as JSON (nil sends no body) with a bearer token when token is set, checks that
// the answer has status want and decodes it into out when out is not nil.
func (c *client) call(ctx context.Context, method, path, token string, header http.Header,
	in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want,
			bytes.TrimSpace(raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

func minPosition(p int64) http.Header {
	return http.Header{"X-Min-Position": {strconv.FormatInt(p, 10)}}
}

func money(amount int64) map[string]any {
	return map[string]any{"amount": amount, "currency": "ARS"}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
