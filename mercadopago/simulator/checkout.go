package simulator

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
)

// checkoutTemplate is the checkout page. It is self-contained: no scripts, fonts or images
// from elsewhere. Form actions are relative, so the page works behind a path prefix.
var checkoutTemplate = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MercadoPago simulator - checkout</title>
<style>
body { font-family: sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
td, th { padding: .3rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n, th.n { text-align: right; }
.total { font-size: 1.3rem; font-weight: bold; }
form { display: inline-block; margin-right: .5rem; }
button { font-size: 1rem; padding: .6rem 1.4rem; border: 0; border-radius: .3rem; color: #fff; }
.approve { background: #009ee3; }
.reject { background: #c0392b; }
.note { color: #777; font-size: .85rem; }
</style>
</head>
<body>
<h1>Checkout</h1>
<p class="note">Simulated MercadoPago. No money moves.</p>
<p>Reference: <code>{{.ExternalReference}}</code></p>
<table>
<tr><th>Item</th><th class="n">Qty</th><th class="n">Unit</th><th class="n">Total</th></tr>
{{range .Items}}<tr><td>{{.Title}}</td><td class="n">{{.Quantity}}</td>` +
	`<td class="n">{{.UnitPrice}}</td><td class="n">{{.LineTotal}}</td></tr>
{{end}}</table>
<p class="total">Total: {{.Total}} {{.Currency}}</p>
<form method="post" action="{{.ID}}/approve">
<button class="approve" type="submit">Approve</button>
</form>
<form method="post" action="{{.ID}}/reject">
<button class="reject" type="submit">Reject</button>
</form>
</body>
</html>
`))

// resultTemplate is shown after a decision when the preference has no back URL for it.
var resultTemplate = template.Must(template.New("result").Parse(`<!doctype html>
<html lang="es">
<head><meta charset="utf-8"><title>MercadoPago simulator - {{.Status}}</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 2rem auto;">
<h1>Payment {{.Status}}</h1>
<p>Payment <code>{{.PaymentID}}</code> for reference <code>{{.ExternalReference}}</code>.</p>
</body>
</html>
`))

type checkoutView struct {
	ID                string
	ExternalReference string
	Currency          string
	Total             string
	Items             []checkoutItemView
}

type checkoutItemView struct {
	Title     string
	Quantity  int
	UnitPrice string
	LineTotal string
}

// checkoutPage handles GET /checkout/{id}.
func (s *Simulator) checkoutPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	pref, ok := s.preferences[r.PathValue("id")]
	var view checkoutView
	if ok {
		view = checkoutView{
			ID:                pref.ID,
			ExternalReference: pref.ExternalReference,
			Currency:          pref.Currency,
			Total:             formatMinor(pref.Total, pref.Currency),
		}
		for _, it := range pref.Items {
			view.Items = append(view.Items, checkoutItemView{
				Title:     it.Title,
				Quantity:  it.Quantity,
				UnitPrice: formatMinor(it.UnitPrice, pref.Currency),
				LineTotal: formatMinor(it.UnitPrice*int64(it.Quantity), pref.Currency),
			})
		}
	}
	s.mu.Unlock()

	if !ok {
		http.Error(w, "unknown preference", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := checkoutTemplate.Execute(w, view); err != nil {
		s.log.Warn("render checkout page", "preference_id", view.ID, "error", err)
	}
}

// checkoutDecision handles the Approve and Reject buttons: it creates an approved or rejected
// payment for the preference's total, notifies, and sends the browser to the matching back
// URL, or shows a result page when there is none.
func (s *Simulator) checkoutDecision(approve bool) http.HandlerFunc {
	status, backURL := "rejected", func(b backURLsWire) string { return b.Failure }
	if approve {
		status, backURL = "approved", func(b backURLsWire) string { return b.Success }
	}

	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		pref, ok := s.preferences[r.PathValue("id")]
		if !ok {
			s.mu.Unlock()
			http.Error(w, "unknown preference", http.StatusNotFound)
			return
		}
		p := s.newPaymentLocked(pref, status, "", pref.Total, pref.Currency, pref.ExternalReference)
		s.notifyLocked(p, "payment.created")
		target := backURL(pref.BackURLs)
		prefID, siteID := pref.ID, siteIDs[pref.Currency]
		s.mu.Unlock()

		paymentID := strconv.FormatInt(p.ID, 10)
		if target == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			err := resultTemplate.Execute(w, map[string]string{
				"Status": status, "PaymentID": paymentID, "ExternalReference": p.ExternalReference,
			})
			if err != nil {
				s.log.Warn("render result page", "payment_id", p.ID, "error", err)
			}
			return
		}

		u, err := url.Parse(target)
		if err != nil {
			http.Error(w, "invalid back URL", http.StatusBadRequest)
			return
		}
		q := u.Query()
		q.Set("collection_id", paymentID)
		q.Set("collection_status", status)
		q.Set("payment_id", paymentID)
		q.Set("status", status)
		q.Set("external_reference", p.ExternalReference)
		q.Set("payment_type", "account_money")
		q.Set("preference_id", prefID)
		q.Set("site_id", siteID)
		q.Set("processing_mode", "aggregator")
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
	}
}
