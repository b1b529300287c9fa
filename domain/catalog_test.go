package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"comanda/domain"
)

func TestOpenAt_SwitchAndWeeklyWindowsIncludingPastMidnight(t *testing.T) {
	ba, err := time.LoadLocation("America/Argentina/Buenos_Aires")
	require.NoError(t, err)
	// local returns a time on the week of Sunday 1 March 2026 in Buenos Aires.
	local := func(weekday time.Weekday, hour, minute int) time.Time {
		return time.Date(2026, 3, 1+int(weekday), hour, minute, 0, 0, ba)
	}
	hours := func(windows ...domain.OpeningHours) *domain.Business {
		return &domain.Business{Open: true, Hours: windows}
	}
	lunch := domain.OpeningHours{Weekday: 1, Opens: "11:30", Closes: "15:00"}
	friday := domain.OpeningHours{Weekday: 5, Opens: "20:00", Closes: "02:30"}
	saturday := domain.OpeningHours{Weekday: 6, Opens: "21:00", Closes: "03:00"}
	cases := []struct {
		name string
		b    *domain.Business
		at   time.Time
		open bool
	}{
		{"switched off", &domain.Business{Open: false}, local(time.Monday, 12, 0), false},
		{"switched off inside a window", &domain.Business{Open: false,
			Hours: []domain.OpeningHours{lunch}}, local(time.Monday, 12, 0), false},
		{"no hours means always", hours(), local(time.Wednesday, 4, 0), true},
		{"inside a window", hours(lunch), local(time.Monday, 12, 0), true},
		{"at the opening minute", hours(lunch), local(time.Monday, 11, 30), true},
		{"a minute before opening", hours(lunch), local(time.Monday, 11, 29), false},
		{"at the closing minute", hours(lunch), local(time.Monday, 15, 0), false},
		{"same hours, another day", hours(lunch), local(time.Tuesday, 12, 0), false},
		{"late on the opening day", hours(friday), local(time.Friday, 23, 59), true},
		{"past midnight, the next day", hours(friday), local(time.Saturday, 1, 0), true},
		{"past midnight, after closing", hours(friday), local(time.Saturday, 2, 30), false},
		{"past midnight window does not open the same morning", hours(friday),
			local(time.Friday, 1, 0), false},
		{"Saturday night into Sunday", hours(saturday), local(time.Sunday, 2, 59), true},
		{"one of several windows", hours(lunch, friday), local(time.Saturday, 0, 30), true},
		{"14:00 UTC is 11:00 in the business's zone", hours(lunch),
			time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.open, tc.b.OpenAt(tc.at, ba))
		})
	}
	require.True(t, hours(lunch).OpenAt(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), ba),
		"15:00 UTC is noon in Buenos Aires")
	require.False(t, hours(lunch).OpenAt(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), time.UTC),
		"and 15:00 in UTC is closing time")
}

func knownZones(name string) bool { return name == "America/Santiago" || name == "UTC" }

func valueRef[T any](v T) *T { return &v }

func TestRegisterBusiness_FillsDefaultsAndValidatesEveryField(t *testing.T) {
	ev, err := domain.RegisterBusiness("b-1", theOwner, domain.BusinessInput{
		Name: valueRef("  La Esquina "), Currency: valueRef(domain.CLP)}, knownZones)
	require.NoError(t, err)
	require.Equal(t, &domain.BusinessRegistered{BusinessID: "b-1", OwnerID: shopOwner, Name: "La Esquina",
		Currency: domain.CLP, DeliveryFee: moneyCLP(0), Open: true,
		Timezone: "America/Argentina/Buenos_Aires", Hours: []domain.OpeningHours{}}, ev)

	_, err = domain.RegisterBusiness("b-1", theOwner, domain.BusinessInput{
		Name: valueRef(" "), Currency: valueRef(domain.Currency("USD")), Timezone: valueRef("Mars/Base"),
		DeliveryFee: &domain.Money{Amount: -1, Currency: domain.ARS},
		Hours:       &[]domain.OpeningHours{{Weekday: -1, Opens: "7", Closes: "24:00"}},
	}, knownZones)
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	var fields []string
	for _, f := range de.Fields {
		fields = append(fields, f.Field)
	}
	require.ElementsMatch(t, []string{"name", "currency", "delivery_fee.amount",
		"delivery_fee.currency", "timezone", "hours[0].weekday", "hours[0].opens",
		"hours[0].closes"}, fields)

	for _, a := range []domain.Actor{theCustomer, theStaff, anAuditor} {
		_, err := domain.RegisterBusiness("b-1", a, domain.BusinessInput{Name: valueRef("X"),
			Currency: valueRef(domain.ARS)}, knownZones)
		require.Equal(t, domain.CodeForbidden, domain.ErrorCode(err), a.Role)
	}
}

func TestBusinessChange_RecordsOnlyWhatChangesAndKeepsTheCurrency(t *testing.T) {
	var b domain.Business
	ev, err := domain.RegisterBusiness("b-1", theOwner, domain.BusinessInput{Name: valueRef("A"),
		Currency: valueRef(domain.ARS)}, knownZones)
	require.NoError(t, err)
	b.Apply(ev)

	none, err := b.Change(theStaff, domain.BusinessInput{Name: valueRef(" A "), Currency: valueRef(domain.ARS)},
		knownZones)
	require.NoError(t, err)
	require.Nil(t, none)
	changed, err := b.Change(anAdmin, domain.BusinessInput{Open: valueRef(false),
		DeliveryFee: valueRef(moneyARS(300)), Timezone: valueRef("UTC")}, knownZones)
	require.NoError(t, err)
	b.Apply(changed)
	_, currency := b.Change(theOwner, domain.BusinessInput{Currency: valueRef(domain.CLP)}, knownZones)
	_, rival := b.Change(otherOwner, domain.BusinessInput{Name: valueRef("B")}, knownZones)

	require.Equal(t, &domain.BusinessChanged{BusinessID: "b-1", Open: valueRef(false),
		DeliveryFee: valueRef(moneyARS(300)), Timezone: valueRef("UTC")}, changed)
	require.Equal(t, int64(2), b.Version)
	require.False(t, b.Open)
	require.Equal(t, "A", b.Name)
	require.Equal(t, domain.CodeValidation, domain.ErrorCode(currency))
	require.Equal(t, domain.CodeForbidden, domain.ErrorCode(rival))
}

func TestProductChange_APriceChangeIsItsOwnEvent(t *testing.T) {
	b := &domain.Business{ID: shopID, OwnerID: shopOwner, Currency: domain.ARS}
	added, err := b.AddProduct("p-1", theStaff, domain.ProductInput{Name: valueRef(" Empanada "),
		Price: valueRef(moneyARS(1000)), Category: valueRef(" comida ")})
	require.NoError(t, err)
	var p domain.Product
	p.Apply(added)

	events, err := p.Change(b, theOwner, domain.ProductInput{Name: valueRef("Empanada"),
		Description: valueRef("de carne"), Price: valueRef(moneyARS(1200)), Available: valueRef(false)})
	require.NoError(t, err)
	for _, e := range events {
		p.Apply(e)
	}
	nothing, err := p.Change(b, theOwner, domain.ProductInput{Price: valueRef(moneyARS(1200))})
	require.NoError(t, err)
	_, badPrice := p.Change(b, theOwner, domain.ProductInput{Price: valueRef(moneyCLP(0))})
	_, rival := p.Change(b, otherOwner, domain.ProductInput{Name: valueRef("X")})
	archived, err := p.Archive(b, anAdmin)
	require.NoError(t, err)
	p.Apply(archived)
	_, again := p.Change(b, theOwner, domain.ProductInput{Name: valueRef("X")})

	require.Equal(t, []domain.Event{
		&domain.ProductDetailsChanged{ProductID: "p-1", Description: valueRef("de carne")},
		&domain.ProductPriceChanged{ProductID: "p-1", From: moneyARS(1000), To: moneyARS(1200)},
		&domain.ProductAvailabilityChanged{ProductID: "p-1", Available: false},
	}, events)
	require.Equal(t, "comida", p.Category)
	require.Empty(t, nothing)
	require.Equal(t, domain.CodeValidation, domain.ErrorCode(badPrice))
	require.Equal(t, domain.CodeForbidden, domain.ErrorCode(rival))
	require.True(t, p.Archived)
	require.False(t, p.Available)
	require.Equal(t, int64(5), p.Version)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(again))
}
