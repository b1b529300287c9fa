package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"comanda/domain"
	"comanda/payments"
	"comanda/projections/catalog"
	readmodel "comanda/projections/payments"
)

// PaymentsDeps are what the payment routes need besides the server's parts.
type PaymentsDeps struct {
	Service *payments.Service
	Reader  *readmodel.Reader
	Catalog *catalog.Reader
	// WebhookSecret checks the signature of MercadoPago's webhooks, and
	// WebhookWindow bounds how far their timestamp may be from now.
	WebhookSecret string
	WebhookWindow time.Duration
}

type paymentsAPI struct {
	s        *Server
	d        PaymentsDeps
	webhooks *prometheus.CounterVec
}

// PaymentsModule serves MercadoPago payments: checkouts and refunds of
// orders, the payment read model, the webhook MercadoPago notifies, and the
// admin routes for dead letters, payments under review and reconciliation.
func PaymentsModule(d PaymentsDeps) Module {
	if d.Service == nil || d.Reader == nil || d.Catalog == nil {
		panic("BUG: PaymentsModule needs the payment service, its read model and the catalog")
	}
	return func(s *Server, api *echo.Group) {
		h := &paymentsAPI{s: s, d: d, webhooks: newWebhookCounter(s.deps.Metrics)}
		api.POST("/orders/:id/payments", h.checkout, RequireRole(), s.Idempotent)
		api.POST("/orders/:id/refunds", h.refund, RequireRole(), s.Idempotent)
		api.GET("/payments", h.list, RequireRole())
		api.GET("/payments/:id", h.get, RequireRole())
		api.POST("/webhooks/mercadopago", h.webhook)

		readers := RequireRole(domain.RoleAdmin, domain.RoleAuditor)
		admin := RequireRole(domain.RoleAdmin)
		api.GET("/admin/payments/dead-letters", h.deadLetters, readers)
		api.POST("/admin/payments/dead-letters/:id/retry", h.retryDeadLetter, admin)
		api.GET("/admin/payments/mismatches", h.mismatches, readers)
		api.POST("/admin/payments/reconcile", h.reconcile, admin)
	}
}

// origin names the caller of a request for the events it causes.
func origin(c echo.Context, p Principal) payments.Origin {
	cause := requestID(c)
	if key := c.Request().Header.Get("Idempotency-Key"); key != "" {
		cause = key
	}
	return payments.Origin{Actor: p.Actor().String(), Role: p.Role, CorrelationID: requestID(c),
		CausationID: cause}
}

type checkoutView struct {
	OrderID      string       `json:"order_id"`
	PreferenceID string       `json:"preference_id"`
	CheckoutURL  string       `json:"checkout_url"`
	Attempt      int          `json:"attempt"`
	Amount       domain.Money `json:"amount"`
	Version      int64        `json:"version"`
	Position     int64        `json:"position"`
}

func (h *paymentsAPI) checkout(c echo.Context) (err error) {
	defer func() { h.s.cmds.observe("start_checkout", err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "order")
	if err != nil {
		return err
	}
	co, err := h.d.Service.StartCheckout(c.Request().Context(), id.String(), p.Actor(), origin(c, p))
	if err != nil {
		return err
	}
	view := checkoutView{OrderID: co.OrderID, PreferenceID: co.PreferenceID,
		CheckoutURL: co.CheckoutURL, Attempt: co.Attempt, Amount: co.Amount, Version: co.Version,
		Position: co.Position}
	if !co.Created {
		return c.JSON(http.StatusOK, view)
	}
	setWritten(c, co.Version, co.Position)
	return c.JSON(http.StatusCreated, view)
}

type refundView struct {
	OrderID       string       `json:"order_id"`
	PaymentID     string       `json:"payment_id"`
	RefundID      string       `json:"refund_id"`
	Amount        domain.Money `json:"amount"`
	RefundedTotal domain.Money `json:"refunded_total"`
	Status        string       `json:"status"`
	Position      int64        `json:"position"`
}

func (h *paymentsAPI) refund(c echo.Context) (err error) {
	defer func() { h.s.cmds.observe("refund_order", err) }()
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "order")
	if err != nil {
		return err
	}
	var body struct {
		Amount *domain.Money `json:"amount"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &body); err != nil {
			return err
		}
	}
	r, err := h.d.Service.Refund(c.Request().Context(), id.String(), p.Actor(), body.Amount,
		origin(c, p))
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Position", strconv.FormatInt(r.Position, 10))
	return c.JSON(http.StatusCreated, refundView{OrderID: r.OrderID, PaymentID: r.PaymentID,
		RefundID: r.RefundID, Amount: r.Amount, RefundedTotal: r.RefundedTotal, Status: r.Status,
		Position: r.Position})
}

func (h *paymentsAPI) list(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, readmodel.Name); err != nil {
		return err
	}
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	f := readmodel.Filter{Limit: limit}
	if cur != nil {
		f.Before = &cur.Pos
	}
	if f.Order, err = uuidParam(c, "order_id"); err != nil {
		return err
	}
	if f.Business, err = uuidParam(c, "business_id"); err != nil {
		return err
	}
	if st := c.QueryParam("status"); st != "" {
		f.Status = &st
	}
	if err := h.scope(c, p, &f); err != nil {
		return err
	}
	items, err := h.d.Reader.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(p readmodel.Payment) pageCursor {
		return pageCursor{Pos: p.Cursor()}
	}))
}

// scope narrows a payment list to what the caller may see: customers their
// own payments, businesses their business's, admins and auditors every one.
func (h *paymentsAPI) scope(c echo.Context, p Principal, f *readmodel.Filter) error {
	a := p.Actor()
	switch {
	case a.ReadsEverything():
		return nil
	case a.Role == domain.RoleCustomer:
		f.Customer = &p.UserID
		return nil
	case a.Role == domain.RoleStaff:
		if f.Business != nil && *f.Business != p.BusinessID {
			return domain.Errorf(domain.CodeForbidden, "staff see only their business's payments")
		}
		f.Business = &p.BusinessID
		return nil
	}
	if f.Business == nil {
		return domain.Invalid(domain.FieldError{Field: "business_id",
			Message: "is required: business owners list one business's payments at a time"})
	}
	owner, err := h.ownerOf(c, *f.Business)
	if err != nil {
		return err
	}
	if owner != p.UserID.String() {
		return domain.Errorf(domain.CodeForbidden, "you do not act for this business")
	}
	return nil
}

func (h *paymentsAPI) ownerOf(c echo.Context, business uuid.UUID) (string, error) {
	b, err := h.d.Catalog.Business(c.Request().Context(), business)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return b.OwnerID.String(), nil
}

func (h *paymentsAPI) get(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	if err := h.s.awaitProjection(c, readmodel.Name); err != nil {
		return err
	}
	pay, err := h.d.Reader.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, readmodel.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "no such payment")
	}
	if err != nil {
		return err
	}
	owner, err := h.ownerOf(c, uuid.MustParse(pay.BusinessID))
	if err != nil {
		return err
	}
	if !domain.OrderVisibleTo(p.Actor(), pay.CustomerID, pay.BusinessID, owner) {
		return domain.Errorf(domain.CodeNotFound, "no such payment")
	}
	return c.JSON(http.StatusOK, pay)
}

func (h *paymentsAPI) mismatches(c echo.Context) error {
	if err := h.s.awaitProjection(c, readmodel.Name); err != nil {
		return err
	}
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	f := readmodel.Filter{Limit: limit, NeedsReview: true}
	if cur != nil {
		f.Before = &cur.Pos
	}
	items, err := h.d.Reader.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(p readmodel.Payment) pageCursor {
		return pageCursor{Pos: p.Cursor()}
	}))
}

func (h *paymentsAPI) deadLetters(c echo.Context) error {
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	before := int64(0)
	if cur != nil {
		before = cur.Pos
	}
	items, err := h.d.Service.DeadLetters(c.Request().Context(), before, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(d payments.DeadLetter) pageCursor {
		return pageCursor{Pos: d.ID}
	}))
}

func (h *paymentsAPI) retryDeadLetter(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return domain.Errorf(domain.CodeNotFound, "no such dead letter")
	}
	d, err := h.d.Service.RetryDeadLetter(c.Request().Context(), id)
	if errors.Is(err, payments.ErrNoDeadLetter) {
		return domain.Errorf(domain.CodeNotFound, "no such dead letter")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, d)
}

func (h *paymentsAPI) reconcile(c echo.Context) error {
	minAge := time.Duration(-1)
	if raw := c.QueryParam("min_age_seconds"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return domain.Invalid(domain.FieldError{Field: "min_age_seconds",
				Message: "must be a whole number of seconds from 0"})
		}
		minAge = time.Duration(n) * time.Second
	}
	rep, err := h.d.Service.Reconcile(c.Request().Context(), minAge)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}
