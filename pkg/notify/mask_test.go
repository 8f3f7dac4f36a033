package notify_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// An empty secret, or one of blanks only, masks nothing.
func TestMaskIgnoresEmptySecrets(t *testing.T) {
	const text = "Authorization: Bearer realm=x"
	if got := notify.Mask(text, "", " ", "\n"); got != text {
		t.Errorf("Mask = %q", got)
	}
	if got := notify.MaskError(errors.New(text), false, "", "\t").Error(); got != text {
		t.Errorf("MaskError = %q", got)
	}
}

// A secret header whose credentials are empty, as "Bearer " + an empty
// token, leaves the scheme's name readable in errors, whether the header is
// given to Post or comes from the Provider's secret. A header value that
// is not a scheme alone is still masked whole.
func TestEmptyCredentialsMaskNoScheme(t *testing.T) {
	const reply = "send Authorization: Bearer or GenieKey, not sk-42"
	sink := notifytest.NewSink(t, notifytest.Status(http.StatusUnauthorized, reply))
	err := notify.Endpoint{Address: sink.URL}.Send(context.Background(), http.MethodPost, nil,
		notify.WithHeaders(map[string]notify.Secret{"Authorization": "Bearer ", "X-Opsgenie": "GenieKey ", "X-Key": "sk-42"}))
	const want = "request failed with status code 401: send Authorization: Bearer or GenieKey, not *****"
	if err == nil || err.Error() != want {
		t.Errorf("Post: err = %v\nwant        %s", err, want)
	}

	cfg := notify.Config{Headers: map[string]notify.Secret{"Authorization": "Bearer ", "X-Key": "sk-42"}}
	if got := notify.Mask(reply, cfg.SecretValues()...); got != "send Authorization: Bearer or GenieKey, not *****" {
		t.Errorf("Mask with SecretValues = %q", got)
	}
}
