// Package mercadopago adapts MercadoPago's payment API to the order engine.
//
// It is for four calls made through the official SDK (create a Checkout Pro
// preference, read a payment, find the payments of an order, refund one) and
// for checking the signature of the webhooks MercadoPago sends. Money crosses
// this boundary as integer minor units plus an ISO 4217 code; the float64
// amounts the SDK uses exist only inside this package.
//
// It is not the place for payment rules: it does not decide what a status
// means for an order, does not retry (errors say whether a retry may help, see
// [Error.Transient]), does not deduplicate webhooks and logs nothing. Those
// belong to the engine. The package simulator next to it is a local stand-in
// for the API, for development and tests.
package mercadopago
