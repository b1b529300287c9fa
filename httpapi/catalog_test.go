package httpapi_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/internal/apitest"
)

// catalogCast is a business with one user of every kind around it.
type catalogCast struct {
	owner, rival, staff, admin, auditor, customer *testUser
	business                                      businessJSON
	product                                       productJSON
}

func newCatalogCast(t *testing.T, h *testAPI) catalogCast {
	t.Helper()
	c := catalogCast{owner: h.owner(t), rival: h.owner(t), admin: h.admin(t), auditor: h.auditor(t),
		customer: h.customer(t)}
	c.business = h.business(t, c.owner, nil)
	c.staff = h.staff(t, c.owner, c.business.ID)
	c.product = h.product(t, c.owner, c.business.ID, nil)
	return c
}

// catalogActor is one caller of the catalog routes and what it may do.
type catalogActor struct {
	name string
	user *testUser // nil is anonymous
	// change is the status of a change to the cast's business or its products.
	change int
	// register is the status of registering a business.
	register int
}

func catalogActors(c catalogCast) []catalogActor {
	return []catalogActor{
		{"owner", c.owner, http.StatusOK, http.StatusCreated},
		{"staff of the business", c.staff, http.StatusOK, http.StatusForbidden},
		{"admin", c.admin, http.StatusOK, http.StatusCreated},
		{"another owner", c.rival, http.StatusForbidden, http.StatusCreated},
		{"customer", c.customer, http.StatusForbidden, http.StatusForbidden},
		{"auditor", c.auditor, http.StatusForbidden, http.StatusForbidden},
		{"anonymous", nil, http.StatusUnauthorized, http.StatusUnauthorized},
	}
}

func (a catalogActor) client(h *testAPI) *apitest.Client {
	if a.user == nil {
		return h.api
	}
	return a.user.Client
}

func (a catalogActor) requireOutcome(t *testing.T, resp *apitest.Response, ok int) {
	t.Helper()
	switch a.change {
	case http.StatusOK:
		require.Equal(t, ok, resp.Status, "%s: %s", a.name, resp.Body)
	case http.StatusForbidden:
		requireProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
	default:
		requireProblem(t, resp, http.StatusUnauthorized, domain.CodeUnauthorized)
	}
}

func TestCatalog_OnlyTheOwnerTheirStaffOrAnAdminChangeABusinessAndItsProducts(t *testing.T) {
	h := newTestAPI(t)
	c := newCatalogCast(t, h)
	biz, prod := "/v1/businesses/"+c.business.ID, "/v1/products/"+c.product.ID

	for i, a := range catalogActors(c) {
		t.Run(a.name, func(t *testing.T) {
			api := a.client(h)
			name := "Nombre " + string(rune('A'+i))

			a.requireOutcome(t, api.Do(http.MethodPatch, biz, map[string]any{"name": name}),
				http.StatusOK)
			a.requireOutcome(t, api.Do(http.MethodPost, biz+"/products",
				map[string]any{"name": name, "price": map[string]any{"amount": 10, "currency": "ARS"}}),
				http.StatusCreated)
			a.requireOutcome(t, api.Do(http.MethodPatch, prod, map[string]any{"name": name}),
				http.StatusOK)
			req := httptest.NewRequest(http.MethodPut, prod+"/image", bytes.NewReader(pngImage(t)))
			req.Header.Set("Content-Type", "image/png")
			a.requireOutcome(t, api.Send(req), http.StatusOK)

			doomed := c.product.ID
			if a.change == http.StatusOK {
				doomed = h.product(t, c.owner, c.business.ID, nil).ID
			}
			archived := api.Do(http.MethodDelete, "/v1/products/"+doomed, nil)
			a.requireOutcome(t, archived, http.StatusOK)
			if a.change == http.StatusOK {
				require.Equal(t, true, archived.Map(t)["archived"])
			}
		})
	}
}

func TestCatalog_BusinessOwnersAndAdminsRegisterBusinessesOthersAreRefused(t *testing.T) {
	h := newTestAPI(t)
	c := newCatalogCast(t, h)

	for _, a := range catalogActors(c) {
		t.Run(a.name, func(t *testing.T) {
			resp := a.client(h).Do(http.MethodPost, "/v1/businesses",
				map[string]any{"name": "Otro", "currency": "CLP"})

			switch a.register {
			case http.StatusCreated:
				require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
				var b businessJSON
				resp.JSON(t, &b)
				require.Equal(t, a.user.ID.String(), b.OwnerID)
				require.Equal(t, "/v1/businesses/"+b.ID, resp.Header.Get("Location"))
				require.Equal(t, `"1"`, resp.Header.Get("ETag"))
				require.Equal(t, b.Position, xPosition(t, resp))
			case http.StatusForbidden:
				requireProblem(t, resp, http.StatusForbidden, domain.CodeForbidden)
			default:
				requireProblem(t, resp, http.StatusUnauthorized, domain.CodeUnauthorized)
			}
		})
	}
}

func TestCatalog_AnyoneMayReadBusinessesProductsHistoryAndImages(t *testing.T) {
	h := newTestAPI(t)
	c := newCatalogCast(t, h)
	req := httptest.NewRequest(http.MethodPut, "/v1/products/"+c.product.ID+"/image",
		bytes.NewReader(pngImage(t)))
	uploaded := c.owner.Send(req)
	require.Equal(t, http.StatusOK, uploaded.Status, "body: %s", uploaded.Body)
	h.await(t, xPosition(t, uploaded))

	for _, a := range catalogActors(c) {
		t.Run(a.name, func(t *testing.T) {
			api := a.client(h)
			for _, path := range []string{
				"/v1/businesses",
				"/v1/businesses/" + c.business.ID,
				"/v1/businesses/" + c.business.ID + "/products",
				"/v1/products/" + c.product.ID,
				"/v1/products/" + c.product.ID + "/history",
				"/v1/products/" + c.product.ID + "/image",
			} {
				resp := api.Do(http.MethodGet, path, nil)
				require.Equal(t, http.StatusOK, resp.Status, "GET %s: %s", path, resp.Body)
			}
		})
	}
}

func TestCatalog_ReadsCarryTheVersionAsETag(t *testing.T) {
	h := newTestAPI(t)
	c := newCatalogCast(t, h)

	business := h.api.Do(http.MethodGet, "/v1/businesses/"+c.business.ID, nil)
	product := h.api.Do(http.MethodGet, "/v1/products/"+c.product.ID, nil)

	require.Equal(t, `"1"`, business.Header.Get("ETag"))
	require.Equal(t, `"1"`, product.Header.Get("ETag"))
	require.Equal(t, c.owner.ID.String(), business.Map(t)["owner_id"])
	require.Equal(t, "Empanada", product.Map(t)["name"])
}

func TestCatalog_PriceChangeShowsInTheHistoryAndTheReadModel(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	prod := h.product(t, owner, biz.ID, nil)

	changed := owner.Do(http.MethodPatch, "/v1/products/"+prod.ID,
		map[string]any{"price": map[string]any{"amount": 1250, "currency": "ARS"}})
	require.Equal(t, http.StatusOK, changed.Status, "body: %s", changed.Body)
	read := h.api.Do(http.MethodGet, "/v1/products/"+prod.ID, nil, minPos(xPosition(t, changed))...)
	history := h.api.Do(http.MethodGet, "/v1/products/"+prod.ID+"/history", nil)

	require.Equal(t, `"2"`, changed.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, read.Status, "body: %s", read.Body)
	var p productJSON
	read.JSON(t, &p)
	require.Equal(t, domain.Money{Amount: 1250, Currency: domain.ARS}, p.Price)
	require.Equal(t, int64(2), p.Version)
	require.Equal(t, `"2"`, read.Header.Get("ETag"))

	require.Equal(t, http.StatusOK, history.Status)
	var events listJSON[historyJSON]
	history.JSON(t, &events)
	require.Len(t, events.Items, 2)
	require.Equal(t, "ProductAdded", events.Items[0].Type)
	last := events.Items[1]
	require.Equal(t, "ProductPriceChanged", last.Type)
	require.Equal(t, int64(2), last.Version)
	require.Equal(t, xPosition(t, changed), last.Position)
	require.Equal(t, "business_owner:"+owner.ID.String(), last.Actor)
	require.Equal(t, map[string]any{"amount": float64(1000), "currency": "ARS"}, last.Data["from"])
	require.Equal(t, map[string]any{"amount": float64(1250), "currency": "ARS"}, last.Data["to"])
}

func TestCatalog_ChangeThatChangesNothingAppendsNoEvent(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	before := h.eventCount(t)

	resp := owner.Do(http.MethodPatch, "/v1/businesses/"+biz.ID, map[string]any{"name": biz.Name})

	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.Equal(t, int64(0), xPosition(t, resp))
	require.Equal(t, `"1"`, resp.Header.Get("ETag"))
	require.Equal(t, before, h.eventCount(t))
}

func TestCatalog_UnknownBusinessesAndProductsAreNotFound(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	missing := uuid.NewString()

	for _, resp := range []*apitest.Response{
		h.api.Do(http.MethodGet, "/v1/businesses/"+missing, nil),
		h.api.Do(http.MethodGet, "/v1/businesses/not-a-uuid", nil),
		h.api.Do(http.MethodGet, "/v1/businesses/"+missing+"/products", nil),
		h.api.Do(http.MethodGet, "/v1/products/"+missing, nil),
		h.api.Do(http.MethodGet, "/v1/products/"+missing+"/history", nil),
		h.api.Do(http.MethodGet, "/v1/products/"+missing+"/image", nil),
		owner.Do(http.MethodPatch, "/v1/businesses/"+missing, map[string]any{"name": "X"}),
		owner.Do(http.MethodPost, "/v1/businesses/"+missing+"/products",
			map[string]any{"name": "X", "price": map[string]any{"amount": 1, "currency": "ARS"}}),
		owner.Do(http.MethodPatch, "/v1/products/"+missing, map[string]any{"name": "X"}),
		owner.Do(http.MethodDelete, "/v1/products/"+missing, nil),
	} {
		requireProblem(t, resp, http.StatusNotFound, domain.CodeNotFound)
	}
}

func TestCatalog_ProductWithoutImageHasNoImageToRead(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	prod := h.product(t, owner, h.business(t, owner, nil).ID, nil)

	resp := h.api.Do(http.MethodGet, "/v1/products/"+prod.ID+"/image", nil)

	require.Nil(t, prod.ImageURL)
	requireProblem(t, resp, http.StatusNotFound, domain.CodeNotFound)
}

func TestCatalog_ArchivedProductAcceptsNoChangeAndLeavesTheList(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	prod := h.product(t, owner, biz.ID, nil)

	archived := owner.Do(http.MethodDelete, "/v1/products/"+prod.ID, nil)
	require.Equal(t, http.StatusOK, archived.Status, "body: %s", archived.Body)
	again := owner.Do(http.MethodPatch, "/v1/products/"+prod.ID, map[string]any{"name": "Otra"})
	list := h.api.Do(http.MethodGet, "/v1/businesses/"+biz.ID+"/products", nil,
		minPos(xPosition(t, archived))...)
	read := h.api.Do(http.MethodGet, "/v1/products/"+prod.ID, nil)

	requireProblem(t, again, http.StatusConflict, domain.CodeConflict)
	var products listJSON[productJSON]
	list.JSON(t, &products)
	require.Empty(t, products.Items)
	var p productJSON
	read.JSON(t, &p)
	require.True(t, p.Archived)
	require.False(t, p.Available)
}

// pngImage encodes a small real PNG.
func pngImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, G: 40, B: 40, A: 255})
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// jpegImage encodes a small real JPEG.
func jpegImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(2, 2, color.RGBA{G: 180, A: 255})
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}))
	return buf.Bytes()
}

// webpImage builds a lossless WebP of one transparent pixel. Its VP8L
// bitstream is the signature, width and height less one (zero) in 14 bits
// each, the alpha bit and a zero version, then, least significant bit first:
// no transform, no colour cache, no meta prefix codes, and five "simple"
// prefix codes of one symbol, zero, each (bits 1, 0, 0, 0), so the pixel
// itself takes no bits.
func webpImage() []byte {
	vp8l := []byte{0x2f, 0x00, 0x00, 0x00, 0x10, 0x88, 0x88, 0x08}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(vp8l)))
	b.WriteString("WEBPVP8L")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(vp8l)))
	b.Write(vp8l)
	return b.Bytes()
}

func putImage(u *testUser, product string, data []byte, contentType string) *apitest.Response {
	req := httptest.NewRequest(http.MethodPut, "/v1/products/"+product+"/image",
		bytes.NewReader(data))
	req.Header.Set("Content-Type", contentType)
	return u.Send(req)
}

func TestCatalog_UploadedImageIsServedBackByteForByte(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	images := []struct {
		kind string
		data []byte
	}{
		{"image/png", pngImage(t)},
		{"image/jpeg", jpegImage(t)},
		{"image/webp", webpImage()},
	}

	for _, img := range images {
		t.Run(img.kind, func(t *testing.T) {
			prod := h.product(t, owner, biz.ID, nil)

			put := putImage(owner, prod.ID, img.data, "application/octet-stream")
			require.Equal(t, http.StatusOK, put.Status, "body: %s", put.Body)
			h.await(t, xPosition(t, put))
			got := h.api.Do(http.MethodGet, "/v1/products/"+prod.ID+"/image", nil)

			var p productJSON
			put.JSON(t, &p)
			require.NotNil(t, p.ImageURL)
			require.Equal(t, "/v1/products/"+prod.ID+"/image", *p.ImageURL)
			require.Equal(t, `"2"`, put.Header.Get("ETag"))
			require.Equal(t, http.StatusOK, got.Status)
			require.Equal(t, img.kind, got.Header.Get("Content-Type"))
			require.Equal(t, img.data, got.Body)
		})
	}
}

func TestCatalog_ImageUploadRefusesOtherFilesOversizedOnesAndEmptyBodies(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	prod := h.product(t, owner, h.business(t, owner, nil).ID, nil)
	oversized := append(pngImage(t), make([]byte, harnessImageBytes)...)

	text := putImage(owner, prod.ID, []byte("this is not an image at all"), "image/png")
	pdf := putImage(owner, prod.ID, []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), "image/jpeg")
	big := putImage(owner, prod.ID, oversized, "image/png")
	empty := putImage(owner, prod.ID, nil, "image/png")

	requireProblem(t, text, http.StatusUnsupportedMediaType, domain.CodeUnsupportedMedia)
	requireProblem(t, pdf, http.StatusUnsupportedMediaType, domain.CodeUnsupportedMedia)
	requireProblem(t, big, http.StatusRequestEntityTooLarge, domain.CodeTooLarge)
	requireProblem(t, empty, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"body"}, problemFields(t, empty))
	after := h.api.Do(http.MethodGet, "/v1/products/"+prod.ID, nil)
	require.Equal(t, `"1"`, after.Header.Get("ETag"), "no refused upload may change the product")
}

func TestCatalog_ProductListFiltersByCategoryAndAvailability(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	other := h.business(t, owner, nil)
	h.product(t, owner, other.ID, map[string]any{"name": "Ajena"})
	empanada := h.product(t, owner, biz.ID, map[string]any{"name": "Empanada", "category": "comida"})
	agotada := h.product(t, owner, biz.ID,
		map[string]any{"name": "Tarta", "category": "comida", "available": false})
	gaseosa := h.product(t, owner, biz.ID, map[string]any{"name": "Gaseosa", "category": "bebida"})

	list := func(query string) []string {
		resp := h.api.Do(http.MethodGet, "/v1/businesses/"+biz.ID+"/products?"+query, nil)
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		var page listJSON[productJSON]
		resp.JSON(t, &page)
		ids := []string{}
		for _, p := range page.Items {
			ids = append(ids, p.ID)
		}
		return ids
	}

	require.Equal(t, []string{empanada.ID, agotada.ID, gaseosa.ID}, list(""))
	require.Equal(t, []string{empanada.ID, agotada.ID}, list("category=comida"))
	require.Equal(t, []string{empanada.ID, gaseosa.ID}, list("available=true"))
	require.Equal(t, []string{agotada.ID}, list("available=false"))
	require.Equal(t, []string{empanada.ID}, list("category=comida&available=true"))
	require.Equal(t, []string{}, list("category=postre"))
	bad := h.api.Do(http.MethodGet, "/v1/businesses/"+biz.ID+"/products?available=maybe", nil)
	requireProblem(t, bad, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"available"}, problemFields(t, bad))
}

// collectPages follows next_cursor from path until the last page and returns the
// ids of every page.
func collectPages(t *testing.T, api *apitest.Client, path string) [][]string {
	t.Helper()
	var out [][]string
	next := path
	for range 50 {
		resp := api.Do(http.MethodGet, next, nil)
		require.Equal(t, http.StatusOK, resp.Status, "GET %s: %s", next, resp.Body)
		var page listJSON[struct {
			ID string `json:"id"`
		}]
		resp.JSON(t, &page)
		ids := []string{}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		out = append(out, ids)
		if page.NextCursor == nil {
			return out
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		next = path + sep + "cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatalf("%s never reached its last page", path)
	return nil
}

func TestCatalog_ListsArePagedWithCursors(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	var businesses, products []string
	for range 3 {
		businesses = append(businesses, h.business(t, owner, nil).ID)
	}
	for range 5 {
		products = append(products, h.product(t, owner, businesses[0], nil).ID)
	}

	productPages := collectPages(t, h.api, "/v1/businesses/"+businesses[0]+"/products?limit=2")
	businessPages := collectPages(t, h.api, "/v1/businesses?limit=2&owner_id="+owner.ID.String())

	require.Equal(t, [][]string{products[0:2], products[2:4], products[4:5]}, productPages)
	require.Equal(t, [][]string{{businesses[2], businesses[1]}, {businesses[0]}}, businessPages)
	for _, query := range []string{"limit=0", "limit=201", "limit=x", "cursor=garbage!",
		"owner_id=nobody"} {
		resp := h.api.Do(http.MethodGet, "/v1/businesses?"+query, nil)
		requireProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
	}
}

func TestCatalog_InvalidBusinessesAreRefusedWithEveryFieldNamed(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	cases := []struct {
		name   string
		method string
		path   string
		body   map[string]any
		fields []string
	}{
		{"missing name and currency", http.MethodPost, "/v1/businesses", map[string]any{},
			[]string{"name", "currency"}},
		{"every field wrong", http.MethodPost, "/v1/businesses", map[string]any{
			"name": "  ", "currency": "USD", "timezone": "Mars/Olympus",
			"delivery_fee": map[string]any{"amount": -1, "currency": "ARS"},
			"hours":        []map[string]any{{"weekday": 7, "opens": "25:00", "closes": "9"}},
		}, []string{"name", "currency", "delivery_fee.amount", "delivery_fee.currency", "timezone",
			"hours[0].weekday", "hours[0].opens", "hours[0].closes"}},
		{"currency change", http.MethodPatch, "/v1/businesses/" + biz.ID,
			map[string]any{"currency": "CLP"}, []string{"currency"}},
		{"fee in another currency", http.MethodPatch, "/v1/businesses/" + biz.ID,
			map[string]any{"delivery_fee": map[string]any{"amount": 10, "currency": "CLP"}},
			[]string{"delivery_fee.currency"}},
		{"product without name or price", http.MethodPost, "/v1/businesses/" + biz.ID + "/products",
			map[string]any{"category": strings.Repeat("x", 61)}, []string{"name", "price", "category"}},
		{"product priced zero in another currency", http.MethodPost,
			"/v1/businesses/" + biz.ID + "/products", map[string]any{"name": "X",
				"price": map[string]any{"amount": 0, "currency": "BRL"}},
			[]string{"price.amount", "price.currency"}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := owner.Do(tc.method, tc.path, tc.body)

			requireProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
			require.ElementsMatch(t, tc.fields, problemFields(t, resp))
		})
	}
}

func TestCatalog_StaleIfMatchIsAVersionConflict(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	biz := h.business(t, owner, nil)
	prod := h.product(t, owner, biz.ID, nil)
	first := owner.Do(http.MethodPatch, "/v1/products/"+prod.ID, map[string]any{"name": "Nueva"},
		"If-Match", `"1"`)
	require.Equal(t, http.StatusOK, first.Status, "body: %s", first.Body)

	stale := owner.Do(http.MethodPatch, "/v1/products/"+prod.ID, map[string]any{"name": "Vieja"},
		"If-Match", `"1"`)
	staleBiz := owner.Do(http.MethodPatch, "/v1/businesses/"+biz.ID, map[string]any{"name": "B"},
		"If-Match", `W/"7"`)
	staleArchive := owner.Do(http.MethodDelete, "/v1/products/"+prod.ID, nil, "If-Match", `"1"`)
	garbage := owner.Do(http.MethodPatch, "/v1/products/"+prod.ID, map[string]any{"name": "X"},
		"If-Match", "latest")

	requireProblem(t, stale, http.StatusConflict, domain.CodeVersionConflict)
	require.Equal(t, map[string]any{"current_version": float64(2)}, stale.Map(t)["details"])
	requireProblem(t, staleBiz, http.StatusConflict, domain.CodeVersionConflict)
	requireProblem(t, staleArchive, http.StatusConflict, domain.CodeVersionConflict)
	requireProblem(t, garbage, http.StatusUnprocessableEntity, domain.CodeValidation)
	require.Equal(t, []string{"If-Match"}, problemFields(t, garbage))
	current := owner.Do(http.MethodPatch, "/v1/products/"+prod.ID, map[string]any{"name": "Otra"},
		"If-Match", first.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, current.Status, "body: %s", current.Body)
}

func TestCatalog_BadBodiesGetClearProblems(t *testing.T) {
	h := newTestAPI(t)
	owner := h.owner(t)
	send := func(body, contentType string) *apitest.Response {
		req := httptest.NewRequest(http.MethodPost, "/v1/businesses", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		return owner.Send(req)
	}

	cases := []struct {
		name, body, contentType string
		status                  int
		code                    domain.Code
	}{
		{"malformed JSON", `{"name": "X",`, "application/json", 422, domain.CodeValidation},
		{"unknown field", `{"name": "X", "currency": "ARS", "vip": true}`, "application/json",
			422, domain.CodeValidation},
		{"wrong type", `{"name": 5, "currency": "ARS"}`, "application/json", 422,
			domain.CodeValidation},
		{"trailing data", `{"name": "X", "currency": "ARS"} {}`, "application/json", 422,
			domain.CodeValidation},
		{"form body", "name=X&currency=ARS", "application/x-www-form-urlencoded", 415,
			domain.CodeUnsupportedMedia},
		{"no content type", `{"name": "X", "currency": "ARS"}`, "", 415,
			domain.CodeUnsupportedMedia},
		{"body over the JSON limit", `{"name": "` + strings.Repeat("x", 1<<20) + `"}`,
			"application/json", 413, domain.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(tc.body, tc.contentType)

			requireProblem(t, resp, tc.status, tc.code)
			if tc.status == http.StatusUnprocessableEntity {
				require.Equal(t, []string{"body"}, problemFields(t, resp))
			}
		})
	}
	json := send(`{"name": "X", "currency": "ARS"}`, "application/json; charset=utf-8")
	require.Equal(t, http.StatusCreated, json.Status, "body: %s", json.Body)
}
