package domain

import (
	"encoding/json"
	"fmt"
)

// Event is something that happened to one aggregate: a business, a product,
// an order or a payment. Its type names it in the event store.
type Event interface {
	EventType() string
}

// eventFactories makes an empty event for each stored event type.
var eventFactories = map[string]func() Event{}

func register(factories ...func() Event) {
	for _, f := range factories {
		eventFactories[f().EventType()] = f
	}
}

// DecodeEvent turns a stored payload back into its event.
func DecodeEvent(eventType string, payload []byte) (Event, error) {
	f, ok := eventFactories[eventType]
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", eventType)
	}
	e := f()
	if err := json.Unmarshal(payload, e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}
