package simulator_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"comanda/mercadopago"
	"comanda/mercadopago/simulator"
)

const preferenceBody = `{"external_reference":"order-1","items":[` +
	`{"title":"Pizza","quantity":2,"unit_price":10.5,"currency_id":"BRL"}]}`

func start(t *testing.T, cfg simulator.Config) *httptest.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	sim := simulator.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return srv
}

func call(t *testing.T, method, url, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

var bearer = map[string]string{"Authorization": "Bearer TEST-token"}

func TestAPI_RequiresABearerToken(t *testing.T) {
	srv := start(t, simulator.Config{})

	status, body := call(t, http.MethodPost, srv.URL+"/checkout/preferences", preferenceBody, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, string(body), `"status":401`)
}

func TestCreatePreference_ConcurrentRequestsWithOneKeyCreateOnePreference(t *testing.T) {
	srv := start(t, simulator.Config{})
	header := map[string]string{"Authorization": "Bearer TEST-token", "X-Idempotency-Key": "k-1"}

	// Each goroutine only records what it got; the checks run on the test goroutine.
	type result struct {
		status int
		id     string
		err    error
	}
	results := make([]result, 16)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
				srv.URL+"/checkout/preferences", strings.NewReader(preferenceBody))
			if err != nil {
				results[i].err = err
				return
			}
			for k, v := range header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			var pref struct {
				ID string `json:"id"`
			}
			results[i].status = resp.StatusCode
			results[i].err = json.NewDecoder(resp.Body).Decode(&pref)
			results[i].id = pref.ID
		})
	}
	wg.Wait()

	for _, r := range results {
		require.NoError(t, r.err)
		require.Equal(t, http.StatusCreated, r.status)
		require.Equal(t, results[0].id, r.id)
	}
	_, state := call(t, http.MethodGet, srv.URL+"/_sim/state", "", nil)
	require.Equal(t, 1, strings.Count(string(state), `"init_point"`))
}

func TestCreatePreference_RefusesBadItems(t *testing.T) {
	srv := start(t, simulator.Config{})

	for _, body := range []string{
		`{"items":[]}`,
		`{"items":[{"title":"x","quantity":1,"unit_price":-5,"currency_id":"ARS"}]}`,
		`{"items":[{"title":"x","quantity":1,"unit_price":1.005,"currency_id":"ARS"}]}`,
		`{"items":[{"title":"x","quantity":1,"unit_price":10,"currency_id":"USD"}]}`,
		`{"items":[{"title":"x","quantity":1,"unit_price":10,"currency_id":"ARS"},` +
			`{"title":"y","quantity":1,"unit_price":10,"currency_id":"CLP"}]}`,
		`not json`,
	} {
		status, _ := call(t, http.MethodPost, srv.URL+"/checkout/preferences", body, bearer)
		require.Equal(t, http.StatusBadRequest, status, body)
	}
}

func TestCheckoutPage_ShowsItemsAndTotalAndUnknownIsNotFound(t *testing.T) {
	srv := start(t, simulator.Config{PublicBaseURL: "http://sim.test/"})
	_, body := call(t, http.MethodPost, srv.URL+"/checkout/preferences", preferenceBody, bearer)
	var pref struct {
		ID        string `json:"id"`
		InitPoint string `json:"init_point"`
	}
	require.NoError(t, json.Unmarshal(body, &pref))
	require.Equal(t, "http://sim.test/checkout/"+pref.ID, pref.InitPoint)

	status, page := call(t, http.MethodGet, srv.URL+"/checkout/"+pref.ID, "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(page), "Pizza")
	require.Contains(t, string(page), "21.00 BRL")
	require.Contains(t, string(page), `action="`+pref.ID+`/approve"`)
	require.Contains(t, string(page), `action="`+pref.ID+`/reject"`)

	status, _ = call(t, http.MethodGet, srv.URL+"/checkout/nope", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _ = call(t, http.MethodPost, srv.URL+"/checkout/nope/approve", "", nil)
	require.Equal(t, http.StatusNotFound, status)
}

func TestWebhook_FallsBackToThePreferencesNotificationURL(t *testing.T) {
	got := make(chan *http.Request, 1)
	hooks := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r
	}))
	t.Cleanup(hooks.Close)
	srv := start(t, simulator.Config{WebhookSecret: "s3cret"})

	body := `{"external_reference":"order-2","notification_url":"` + hooks.URL +
		`/hook?source=mp","items":[{"title":"Café","quantity":1,"unit_price":2500,` +
		`"currency_id":"CLP"}]}`
	_, raw := call(t, http.MethodPost, srv.URL+"/checkout/preferences", body, bearer)
	var pref struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &pref))
	status, _ := call(t, http.MethodPost, srv.URL+"/checkout/"+pref.ID+"/approve", "", nil)
	require.Equal(t, http.StatusOK, status)

	select {
	case r := <-got:
		q := r.URL.Query()
		require.Equal(t, "/hook", r.URL.Path)
		require.Equal(t, "mp", q.Get("source"))
		require.Equal(t, "payment", q.Get("type"))
		require.NoError(t, mercadopago.VerifySignature("s3cret", r.Header.Get("X-Signature"),
			q.Get("data.id"), r.Header.Get("X-Request-Id"), time.Now(), time.Minute))
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook arrived")
	}
}

func TestWebhook_SignedWithTheInjectedClock(t *testing.T) {
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	got := make(chan *http.Request, 1)
	hooks := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r
	}))
	t.Cleanup(hooks.Close)
	srv := start(t, simulator.Config{
		WebhookURL: hooks.URL, WebhookSecret: "s3cret", Clock: func() time.Time { return clock },
	})

	_, raw := call(t, http.MethodPost, srv.URL+"/_sim/payments",
		`{"external_reference":"o","status":"pending","amount_minor":100,"currency":"PEN"}`, nil)
	require.Contains(t, string(raw), `"date_created":"2030-01-02T03:04:05.000+00:00"`)

	r := <-got
	require.NoError(t, mercadopago.VerifySignature("s3cret", r.Header.Get("X-Signature"),
		r.URL.Query().Get("data.id"), r.Header.Get("X-Request-Id"), clock, time.Second))
}

func TestControl_RefusesInvalidRequests(t *testing.T) {
	srv := start(t, simulator.Config{})

	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodPost, "/_sim/payments", `{"status":"weird","preference_id":"x"}`, 400},
		{http.MethodPost, "/_sim/payments", `{"status":"approved","preference_id":"x"}`, 404},
		{http.MethodPost, "/_sim/payments", `{"status":"approved","currency":"ARS"}`, 400},
		{http.MethodPost, "/_sim/payments",
			`{"status":"approved","amount_minor":1,"currency":"EUR"}`, 400},
		{http.MethodPost, "/_sim/payments/42/status", `{"status":"refunded"}`, 404},
		{http.MethodPost, "/_sim/payments/42/notify", ``, 404},
		{http.MethodPost, "/_sim/faults", `{"kind":"explode"}`, 400},
		{http.MethodPost, "/_sim/faults", `{"kind":"delay"}`, 400},
		{http.MethodPost, "/_sim/faults", `{"kind":"error","status":302}`, 400},
	} {
		status, _ := call(t, tc.method, srv.URL+tc.path, tc.body, nil)
		require.Equal(t, tc.status, status, "%s %s", tc.path, tc.body)
	}
}

func TestControl_FaultsAreConsumedInOrderAndCanBeCleared(t *testing.T) {
	srv := start(t, simulator.Config{})
	call(t, http.MethodPost, srv.URL+"/_sim/faults", `{"kind":"error","status":503,"count":2}`,
		nil)
	call(t, http.MethodPost, srv.URL+"/_sim/faults", `{"kind":"rate_limit"}`, nil)

	var statuses []int
	for range 4 {
		status, _ := call(t, http.MethodGet, srv.URL+"/v1/payments/1000000001", "", bearer)
		statuses = append(statuses, status)
	}
	require.Equal(t, []int{503, 503, 429, 404}, statuses)

	call(t, http.MethodPost, srv.URL+"/_sim/faults", `{"kind":"error","count":5}`, nil)
	call(t, http.MethodDelete, srv.URL+"/_sim/faults", "", nil)
	status, _ := call(t, http.MethodGet, srv.URL+"/v1/payments/search", "", bearer)
	require.Equal(t, http.StatusOK, status)

	// Preferences are outside /v1/payments and never fail.
	call(t, http.MethodPost, srv.URL+"/_sim/faults", `{"kind":"error"}`, nil)
	status, _ = call(t, http.MethodPost, srv.URL+"/checkout/preferences", preferenceBody, bearer)
	require.Equal(t, http.StatusCreated, status)
}

func TestControl_ResetForgetsEverything(t *testing.T) {
	srv := start(t, simulator.Config{})
	call(t, http.MethodPost, srv.URL+"/checkout/preferences", preferenceBody, bearer)

	call(t, http.MethodPost, srv.URL+"/_sim/reset", "", nil)
	_, state := call(t, http.MethodGet, srv.URL+"/_sim/state", "", nil)
	require.JSONEq(t, `{"preferences":[],"payments":[],"faults":[],"webhooks":[]}`, string(state))
}

func TestClose_StopsRetryingWebhooks(t *testing.T) {
	var attempts atomic.Int32
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attempts.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(hooks.Close)
	sim := simulator.New(simulator.Config{
		WebhookURL: hooks.URL, WebhookAttempts: 100, WebhookBackoff: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	call(t, http.MethodPost, srv.URL+"/_sim/payments",
		`{"external_reference":"o","status":"approved","amount_minor":100,"currency":"UYU"}`, nil)
	require.Eventually(t, func() bool { return attempts.Load() == 1 }, 5*time.Second,
		5*time.Millisecond)

	closed := make(chan struct{})
	go func() {
		sim.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	require.Equal(t, int32(1), attempts.Load())
}
