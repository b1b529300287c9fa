package mercadopago_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"comanda/mercadopago"
	"comanda/mercadopago/simulator"
)

const (
	testToken         = "TEST-1234567890-access-token"
	testWebhookSecret = "simulated-webhook-secret"
)

// webhook is a notification as the test receiver got it.
type webhook struct {
	Query  url.Values
	Header http.Header
	Body   struct {
		Type   string `json:"type"`
		Action string `json:"action"`
		Data   struct {
			ID string `json:"id"`
		} `json:"data"`
	}
}

// receiver stands in for the engine's webhook endpoint.
type receiver struct {
	srv *httptest.Server
	got chan webhook
	// failures is how many upcoming notifications to answer with 500.
	failures atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan webhook, 64)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := webhook{Query: r.URL.Query(), Header: r.Header.Clone()}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &h.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.got <- h
		if rc.failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) next(t *testing.T) webhook {
	t.Helper()
	select {
	case h := <-rc.got:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook arrived")
		return webhook{}
	}
}

func (rc *receiver) requireNone(t *testing.T) {
	t.Helper()
	select {
	case h := <-rc.got:
		t.Fatalf("unexpected webhook for payment %s", h.Query.Get("data.id"))
	case <-time.After(200 * time.Millisecond):
	}
}

// env is a client talking through the SDK to a simulator that notifies a receiver.
type env struct {
	api    *httptest.Server
	hooks  *receiver
	client *mercadopago.Client
}

func newEnv(t *testing.T, opts ...mercadopago.Option) *env {
	hooks := newReceiver(t)
	sim := simulator.New(simulator.Config{
		WebhookURL:      hooks.srv.URL + "/webhooks/mercadopago",
		WebhookSecret:   testWebhookSecret,
		WebhookBackoff:  10 * time.Millisecond,
		WebhookAttempts: 3,
		Logger:          slog.New(slog.DiscardHandler),
	})
	api := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		api.Close()
	})

	opts = append([]mercadopago.Option{mercadopago.WithBaseURL(api.URL)}, opts...)
	client, err := mercadopago.New(testToken, opts...)
	require.NoError(t, err)
	return &env{api: api, hooks: hooks, client: client}
}

// sim calls the simulator's control API and decodes its answer into out, if given.
func (e *env) sim(t *testing.T, method, path string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), method, e.api.URL+path,
		strings.NewReader(string(body)))
	require.NoError(t, err)

	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "%s %s", method, path)
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
}

// simPayment creates a payment through the control API and returns its id.
func (e *env) simPayment(t *testing.T, in map[string]any) string {
	t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	e.sim(t, http.MethodPost, "/_sim/payments", in, &out)
	return strconv.FormatInt(out.ID, 10)
}

type simState struct {
	Preferences []struct {
		ID    string `json:"id"`
		Items []struct {
			Quantity  int     `json:"quantity"`
			UnitPrice float64 `json:"unit_price"`
		} `json:"items"`
	} `json:"preferences"`
	Payments []struct {
		ID int64 `json:"id"`
	} `json:"payments"`
	Webhooks []struct {
		PaymentID int64 `json:"payment_id"`
		Attempts  int   `json:"attempts"`
		Delivered bool  `json:"delivered"`
	} `json:"webhooks"`
}

func (e *env) state(t *testing.T) simState {
	t.Helper()
	var s simState
	e.sim(t, http.MethodGet, "/_sim/state", nil, &s)
	return s
}

func (e *env) preference(t *testing.T, in mercadopago.PreferenceInput) mercadopago.Preference {
	t.Helper()
	pref, err := e.client.CreatePreference(t.Context(), in)
	require.NoError(t, err)
	return pref
}

func order(id string) mercadopago.PreferenceInput {
	return mercadopago.PreferenceInput{
		OrderID:         id,
		Currency:        "ARS",
		Items:           []mercadopago.Item{{Title: "Pizza muzzarella", Quantity: 1, UnitPrice: 1999}},
		NotificationURL: "https://engine.example/webhooks/mercadopago",
		PayerEmail:      "buyer@example.com",
	}
}

// noRedirects is an HTTP client that shows redirects instead of following them.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes a bodiless request, as a browser following a link or posting an empty form would.
func send(t *testing.T, c *http.Client, method, target string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	return resp
}

func TestCreatePreference_ReusedIdempotencyKeyReturnsSamePreference(t *testing.T) {
	e := newEnv(t)
	ctx := mercadopago.WithIdempotencyKey(t.Context(), "order-1:preference")

	first, err := e.client.CreatePreference(ctx, order("order-1"))
	require.NoError(t, err)
	require.NotEmpty(t, first.ID)
	require.Equal(t, e.api.URL+"/checkout/"+first.ID, first.CheckoutURL)

	again, err := e.client.CreatePreference(ctx, order("order-1"))
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Len(t, e.state(t).Preferences, 1)

	other, err := e.client.CreatePreference(
		mercadopago.WithIdempotencyKey(t.Context(), "order-1:preference:2"), order("order-1"))
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID)
	require.Len(t, e.state(t).Preferences, 2)
}

func TestCreatePreference_ChargesItemsPlusDeliveryMinusDiscount(t *testing.T) {
	e := newEnv(t)
	in := order("order-2")
	in.Items = []mercadopago.Item{
		{Title: "Empanada", Quantity: 3, UnitPrice: 1000},
		{Title: "Flan", Quantity: 1, UnitPrice: 2550},
	}
	in.DeliveryFee, in.Discount = 500, 1001
	pref := e.preference(t, in)

	id := e.simPayment(t, map[string]any{"preference_id": pref.ID, "status": "approved"})
	p, err := e.client.GetPayment(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, int64(3000+2550+500-1001), p.Amount)

	for _, item := range e.state(t).Preferences[0].Items {
		require.Positive(t, item.UnitPrice)
	}
}

func TestCheckoutApprove_SendsWebhookThatVerifiesAndPaymentCanBeRead(t *testing.T) {
	e := newEnv(t)
	in := order("order-3")
	in.BackURLs.Success = "https://shop.example/orders/order-3?ok=1"
	pref := e.preference(t, in)

	// The checkout page is self-contained and its Approve form posts to the simulator.
	page := send(t, http.DefaultClient, http.MethodGet, pref.CheckoutURL)
	html, err := io.ReadAll(page.Body)
	require.NoError(t, err)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(html), "19.99")
	require.NotContains(t, string(html), "src=")
	require.NotContains(t, string(html), "<link")
	action := regexp.MustCompile(`action="([^"]+/approve)"`).FindStringSubmatch(string(html))
	require.Len(t, action, 2)
	pageURL, err := url.Parse(pref.CheckoutURL)
	require.NoError(t, err)
	approveURL, err := pageURL.Parse(action[1])
	require.NoError(t, err)

	resp := send(t, noRedirects, http.MethodPost, approveURL.String())
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "shop.example", back.Host)
	require.Equal(t, "approved", back.Query().Get("status"))
	require.Equal(t, "1", back.Query().Get("ok"))

	hook := e.hooks.next(t)
	dataID := hook.Query.Get("data.id")
	require.Equal(t, "payment", hook.Query.Get("type"))
	require.Equal(t, back.Query().Get("payment_id"), dataID)
	require.Equal(t, "payment", hook.Body.Type)
	require.Equal(t, "payment.created", hook.Body.Action)
	require.Equal(t, dataID, hook.Body.Data.ID)
	err = mercadopago.VerifySignature(testWebhookSecret, hook.Header.Get("X-Signature"), dataID,
		hook.Header.Get("X-Request-Id"), time.Now(), 5*time.Minute)
	require.NoError(t, err)

	p, err := e.client.GetPayment(t.Context(), dataID)
	require.NoError(t, err)
	require.Equal(t, dataID, p.ID)
	require.Equal(t, mercadopago.StatusApproved, p.Status)
	require.Equal(t, "accredited", p.StatusDetail)
	require.Equal(t, int64(1999), p.Amount)
	require.Zero(t, p.RefundedAmount)
	require.Equal(t, "ARS", p.Currency)
	require.Equal(t, "order-3", p.ExternalReference)
	require.NotNil(t, p.DateApproved)
	require.WithinDuration(t, time.Now(), *p.DateApproved, time.Minute)
}

func TestCheckoutReject_CreatesRejectedPaymentAndNotifies(t *testing.T) {
	e := newEnv(t)
	pref := e.preference(t, order("order-4"))

	resp := send(t, noRedirects, http.MethodPost, pref.CheckoutURL+"/reject")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	hook := e.hooks.next(t)
	p, err := e.client.GetPayment(t.Context(), hook.Body.Data.ID)
	require.NoError(t, err)
	require.Equal(t, mercadopago.StatusRejected, p.Status)
	require.Nil(t, p.DateApproved)
	require.Equal(t, "order-4", p.ExternalReference)
}

func TestWebhook_IsRetriedUntilTheReceiverAccepts(t *testing.T) {
	e := newEnv(t)
	e.hooks.failures.Store(2)
	pref := e.preference(t, order("order-5"))

	resp := send(t, noRedirects, http.MethodPost, pref.CheckoutURL+"/approve")
	resp.Body.Close()

	first, second, third := e.hooks.next(t), e.hooks.next(t), e.hooks.next(t)
	require.Equal(t, first.Body, second.Body)
	require.Equal(t, first.Body, third.Body)
	require.NotEqual(t, first.Header.Get("X-Request-Id"), third.Header.Get("X-Request-Id"))
	require.Eventually(t, func() bool {
		hooks := e.state(t).Webhooks
		return len(hooks) == 1 && hooks[0].Delivered && hooks[0].Attempts == 3
	}, 5*time.Second, 10*time.Millisecond)
}

func TestSearchPaymentsByExternalReference_FindsAMissedPayment(t *testing.T) {
	e := newEnv(t)
	prefA := e.preference(t, order("order-A"))
	prefB := e.preference(t, order("order-B"))

	rejected := e.simPayment(t, map[string]any{
		"preference_id": prefA.ID, "status": "rejected", "skip_webhook": true,
	})
	approved := e.simPayment(t, map[string]any{
		"preference_id": prefA.ID, "status": "approved", "skip_webhook": true,
	})
	e.simPayment(t, map[string]any{"preference_id": prefB.ID, "status": "approved"})
	e.hooks.next(t) // order-B's payment
	e.hooks.requireNone(t)

	found, err := e.client.SearchPaymentsByExternalReference(t.Context(), "order-A")
	require.NoError(t, err)
	require.Len(t, found, 2)
	require.Equal(t, rejected, found[0].ID)
	require.Equal(t, mercadopago.StatusRejected, found[0].Status)
	require.Equal(t, approved, found[1].ID)
	require.Equal(t, mercadopago.StatusApproved, found[1].Status)
	require.Equal(t, int64(1999), found[1].Amount)

	none, err := e.client.SearchPaymentsByExternalReference(t.Context(), "order-unknown")
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestSearchPaymentsByExternalReference_ReadsEveryPage(t *testing.T) {
	e := newEnv(t)
	for range 57 {
		e.simPayment(t, map[string]any{
			"external_reference": "order-busy", "status": "rejected", "amount_minor": 1500,
			"currency": "CLP", "skip_webhook": true,
		})
	}

	found, err := e.client.SearchPaymentsByExternalReference(t.Context(), "order-busy")
	require.NoError(t, err)
	require.Len(t, found, 57)
	require.Equal(t, int64(1500), found[56].Amount)
	require.Equal(t, "CLP", found[56].Currency)
}

func TestRefund_PartialThenFull(t *testing.T) {
	e := newEnv(t)
	pref := e.preference(t, order("order-6"))
	id := e.simPayment(t, map[string]any{
		"preference_id": pref.ID, "status": "approved", "skip_webhook": true,
	})

	part := int64(500)
	ctx := mercadopago.WithIdempotencyKey(t.Context(), "order-6:refund:1")
	r1, err := e.client.Refund(ctx, id, &part)
	require.NoError(t, err)
	require.Equal(t, int64(500), r1.Amount)
	require.Equal(t, "ARS", r1.Currency)
	require.Equal(t, id, r1.PaymentID)
	require.Equal(t, "approved", r1.Status)

	hook := e.hooks.next(t)
	require.Equal(t, "payment.updated", hook.Body.Action)
	require.Equal(t, id, hook.Body.Data.ID)

	// A retry with the same key refunds nothing more.
	again, err := e.client.Refund(ctx, id, &part)
	require.NoError(t, err)
	require.Equal(t, r1, again)
	p, err := e.client.GetPayment(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, int64(500), p.RefundedAmount)
	require.Equal(t, mercadopago.StatusApproved, p.Status)
	require.Equal(t, "partially_refunded", p.StatusDetail)

	rest, err := e.client.Refund(mercadopago.WithIdempotencyKey(t.Context(), "order-6:refund:2"),
		id, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1499), rest.Amount)
	require.NotEqual(t, r1.ID, rest.ID)
	e.hooks.next(t)

	p, err = e.client.GetPayment(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, mercadopago.StatusRefunded, p.Status)
	require.Equal(t, int64(1999), p.RefundedAmount)

	_, err = e.client.Refund(t.Context(), id, nil)
	var mpErr *mercadopago.Error
	require.ErrorAs(t, err, &mpErr)
	require.Equal(t, http.StatusBadRequest, mpErr.StatusCode)
	require.False(t, mpErr.Transient())
}

func TestRefund_RefusesANonPositiveAmountWithoutCalling(t *testing.T) {
	e := newEnv(t)
	zero := int64(0)

	_, err := e.client.Refund(t.Context(), "1000000001", &zero)
	require.ErrorIs(t, err, mercadopago.ErrInvalidInput)

	_, err = e.client.Refund(t.Context(), "abc", nil)
	require.ErrorIs(t, err, mercadopago.ErrInvalidPaymentID)
}

func TestRefund_MoreThanWasPaidIsRefused(t *testing.T) {
	e := newEnv(t)
	pref := e.preference(t, order("order-7"))
	id := e.simPayment(t, map[string]any{
		"preference_id": pref.ID, "status": "approved", "skip_webhook": true,
	})

	tooMuch := int64(2000)
	_, err := e.client.Refund(t.Context(), id, &tooMuch)
	var mpErr *mercadopago.Error
	require.ErrorAs(t, err, &mpErr)
	require.Equal(t, http.StatusBadRequest, mpErr.StatusCode)
	require.Equal(t, "bad_request", mpErr.Code)
	require.False(t, mpErr.Transient())
}

func TestGetPayment_ServerErrorIsTransientAndTheNextCallSucceeds(t *testing.T) {
	e := newEnv(t)
	pref := e.preference(t, order("order-8"))
	id := e.simPayment(t, map[string]any{"preference_id": pref.ID, "status": "approved"})
	e.sim(t, http.MethodPost, "/_sim/faults", map[string]any{"kind": "error", "count": 1}, nil)

	_, err := e.client.GetPayment(t.Context(), id)
	var mpErr *mercadopago.Error
	require.ErrorAs(t, err, &mpErr)
	require.Equal(t, http.StatusInternalServerError, mpErr.StatusCode)
	require.Equal(t, "get payment", mpErr.Op)
	require.True(t, mpErr.Transient())
	require.True(t, mercadopago.IsTransient(err))

	p, err := e.client.GetPayment(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, mercadopago.StatusApproved, p.Status)
}

func TestGetPayment_TimeoutIsTransient(t *testing.T) {
	e := newEnv(t, mercadopago.WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))
	pref := e.preference(t, order("order-9"))
	id := e.simPayment(t, map[string]any{"preference_id": pref.ID, "status": "approved"})
	e.sim(t, http.MethodPost, "/_sim/faults", map[string]any{"kind": "delay", "delay_ms": 2000},
		nil)

	start := time.Now()
	_, err := e.client.GetPayment(t.Context(), id)
	require.Less(t, time.Since(start), time.Second)
	var mpErr *mercadopago.Error
	require.ErrorAs(t, err, &mpErr)
	require.Zero(t, mpErr.StatusCode)
	require.True(t, mpErr.Transient())

	_, err = e.client.GetPayment(t.Context(), id)
	require.NoError(t, err)
}

func TestGetPayment_RateLimitIsTransient(t *testing.T) {
	e := newEnv(t)
	e.sim(t, http.MethodPost, "/_sim/faults", map[string]any{"kind": "rate_limit"}, nil)

	_, err := e.client.GetPayment(t.Context(), "1000000001")
	var mpErr *mercadopago.Error
	require.ErrorAs(t, err, &mpErr)
	require.Equal(t, http.StatusTooManyRequests, mpErr.StatusCode)
	require.True(t, mpErr.Transient())
}

func TestGetPayment_UnknownIDIsNotFoundAndNotTransient(t *testing.T) {
	e := newEnv(t)

	_, err := e.client.GetPayment(t.Context(), "1999999999")
	require.ErrorIs(t, err, mercadopago.ErrNotFound)
	require.False(t, mercadopago.IsTransient(err))
}

func TestGetPayment_RejectsNonNumericIDs(t *testing.T) {
	e := newEnv(t)

	for _, id := range []string{"", "abc", "12a", "-5", "0", "1.5", "99999999999999999999999"} {
		_, err := e.client.GetPayment(t.Context(), id)
		require.ErrorIs(t, err, mercadopago.ErrInvalidPaymentID, id)
		require.False(t, mercadopago.IsTransient(err))
	}
}

func TestGetPayment_CancelledCallIsNotTransient(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := e.client.GetPayment(ctx, "1000000001")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, mercadopago.IsTransient(err))
}

func TestSimulatorControl_StatusChangeAndDuplicateNotification(t *testing.T) {
	e := newEnv(t)
	pref := e.preference(t, order("order-10"))
	id := e.simPayment(t, map[string]any{
		"preference_id": pref.ID, "status": "approved", "skip_webhook": true,
	})
	e.hooks.requireNone(t)

	e.sim(t, http.MethodPost, "/_sim/payments/"+id+"/status",
		map[string]any{"status": "charged_back"}, nil)
	hook := e.hooks.next(t)
	require.Equal(t, id, hook.Body.Data.ID)
	require.Equal(t, "payment.updated", hook.Body.Action)

	e.sim(t, http.MethodPost, "/_sim/payments/"+id+"/notify", nil, nil)
	dup := e.hooks.next(t)
	require.Equal(t, hook.Body, dup.Body)
	require.NoError(t, mercadopago.VerifySignature(testWebhookSecret, dup.Header.Get("X-Signature"),
		dup.Query.Get("data.id"), dup.Header.Get("X-Request-Id"), time.Now(), time.Minute))

	p, err := e.client.GetPayment(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, mercadopago.StatusChargedBack, p.Status)
	require.NotNil(t, p.DateApproved)
}

func TestClient_SendsTheCallersIdempotencyKeyToTheBaseURL(t *testing.T) {
	type seen struct {
		path, auth, key string
	}
	got := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Idempotency-Key")}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"pref-1","init_point":"https://example/checkout"}`)
	}))
	t.Cleanup(srv.Close)
	client, err := mercadopago.New(testToken, mercadopago.WithBaseURL(srv.URL+"/mp/"))
	require.NoError(t, err)

	ctx := mercadopago.WithIdempotencyKey(t.Context(), "order-11:preference")
	pref, err := client.CreatePreference(ctx, order("order-11"))
	require.NoError(t, err)
	require.Equal(t, mercadopago.Preference{ID: "pref-1", CheckoutURL: "https://example/checkout"},
		pref)
	require.Equal(t, seen{"/mp/checkout/preferences", "Bearer " + testToken, "order-11:preference"},
		<-got)

	_, err = client.CreatePreference(t.Context(), order("order-11"))
	require.NoError(t, err)
	other := <-got
	require.NotEmpty(t, other.key, "the SDK's own key is kept when the caller gives none")
	require.NotEqual(t, "order-11:preference", other.key)
}

func TestNew_RefusesUnusableSettings(t *testing.T) {
	_, err := mercadopago.New("")
	require.ErrorIs(t, err, mercadopago.ErrInvalidInput)

	for _, base := range []string{"ftp://example.com", "localhost:8080", "http://"} {
		_, err = mercadopago.New(testToken, mercadopago.WithBaseURL(base))
		require.Error(t, err, base)
	}
}

func TestError_DescribesTheFailedAction(t *testing.T) {
	err := &mercadopago.Error{Op: "get payment", StatusCode: 404, Message: "Payment not found"}
	require.Equal(t, "mercadopago: get payment: HTTP 404: Payment not found", err.Error())
	require.True(t, errors.Is(err, mercadopago.ErrNotFound))
}
