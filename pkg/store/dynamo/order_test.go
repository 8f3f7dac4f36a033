package dynamo

import (
	"testing"

	"github.com/heraldhq/herald/pkg/store/storetest"
)

// The ordering record against DynamoDB Local: its conditional put is what
// keeps concurrent Lambda instances from setting an older status.
func TestStatusOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	storetest.StatusOrder(t, e.store.StatusOrder())
	item := e.rawItem(t, orderPrefix+"race", orderSK)
	exp, ok := getN(item, attrExpiresAt)
	if want := ceilUnix(e.clock.Now().Add(DefaultOrderTTL)); !ok || exp != want {
		t.Errorf("expiresAt %d, want %d (30 days)", exp, want)
	}
}
