package githubapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
)

// Slug asks GitHub for the App's slug with GET /app, authenticated with
// the App JWT at the App's API base, as Flux's WithAppSlugReflection does
// before it creates a token. What an installation writes is by
// "<slug>[bot]". Errors carry Flux's text, are classified as Token's are,
// and show what Token's do not.
func (s *Source) Slug(ctx context.Context) (string, error) {
	now := s.Now()
	jwt, err := s.jwt(now)
	if err != nil {
		return "", notify.Permanent(err)
	}
	fail := func(err error) (string, error) {
		e := Classify(err, now)
		e.Err = notify.MaskError(fmt.Errorf("failed to get app information: %w", err), e.Retryable,
			append([]notify.Secret{notify.Secret(jwt)}, s.masks...)...).Err
		return "", e
	}
	client, err := github.NewClient(github.WithHTTPClient(s.client), github.WithAuthToken(jwt), github.WithURLs(&s.base, &s.base))
	if err != nil {
		return fail(errors.New("invalid API URL"))
	}
	app, _, err := client.Apps.Get(ctx, "")
	if err != nil {
		return fail(err)
	}
	if app.GetSlug() == "" {
		return fail(errors.New("GitHub answered without the App's slug"))
	}
	return app.GetSlug(), nil
}
