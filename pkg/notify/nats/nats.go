// Package nats publishes the Flux event to a NATS subject (Flux's
// internal/notifier/nats.go). The address is the server URL and the channel
// the subject; the main secret's creds (a JWT and NKey credentials file),
// else its nkey (a seed), else the username and password authenticate.
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// ConnectionName is the client name Flux gives the server.
const ConnectionName = "NATS Provider Publisher"

// Notifier publishes events on one connection, dialled on the first Notify
// and reused until it fails.
type Notifier struct {
	server  string
	subject string
	auth    nats.Option // nil for none
	secrets []notify.Secret

	mu     sync.Mutex
	conn   *nats.Conn
	closed bool
}

var (
	_ notify.Notifier = (*Notifier)(nil)
	_ io.Closer       = (*Notifier)(nil)
)

// errClosed fails an attempt on a closed notifier; the retry gets the one
// that replaced it.
var errClosed = errors.New("NATS notifier closed: its Provider was changed or removed")

// Close closes the connection, if one is open, for the owner of the
// notifier once its Provider changed or left the config. A Notify after
// Close fails retryably rather than dial a connection nobody would close.
func (n *Notifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
	return nil
}

// New checks the config and the credentials, without dialling.
func New(cfg notify.Config) (notify.Notifier, error) {
	if cfg.Address == "" {
		return nil, errors.New("NATS server (address) cannot be empty")
	}
	if cfg.Channel == "" {
		return nil, errors.New("NATS subject (channel) cannot be empty")
	}
	if err := checkServers(cfg.Address.Reveal()); err != nil {
		return nil, err
	}
	auth, err := authOption(cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{
		server:  cfg.Address.Reveal(),
		subject: cfg.Channel,
		auth:    auth,
		secrets: cfg.SecretValues(),
	}, nil
}

// checkServers parses the server list as nats.Connect will (comma
// separated, "nats://" assumed without a scheme), so that a typo fails at
// load time. The error says which entry, never what it holds: url.Parse
// quotes the pieces it rejects, and those may be credentials.
func checkServers(address string) error {
	for i, s := range strings.Split(address, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		if _, err := url.Parse(s); err != nil {
			return fmt.Errorf("invalid NATS server (address): entry %d is not a URL", i+1)
		}
	}
	return nil
}

// authOption picks the credentials in Flux's order and parses them now, so
// that a malformed secret fails at load time rather than on every event.
// The errors are nkeys' own, which never quote the key.
func authOption(cfg notify.Config) (nats.Option, error) {
	if creds := cfg.SecretData["creds"].Reveal(); creds != "" {
		if _, err := nkeys.ParseDecoratedJWT([]byte(creds)); err != nil {
			return nil, fmt.Errorf("invalid NATS creds in secret: %w", err)
		}
		if _, err := nkeys.ParseDecoratedNKey([]byte(creds)); err != nil {
			return nil, fmt.Errorf("invalid NATS creds in secret: %w", err)
		}
		return nats.UserCredentialBytes([]byte(creds)), nil
	}
	if seed := cfg.SecretData["nkey"].Reveal(); seed != "" {
		kp, err := nkeys.FromSeed([]byte(seed))
		if err != nil {
			return nil, fmt.Errorf("error parsing nkey seed: %w", err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("error getting public key from nkey: %w", err)
		}
		return nats.Nkey(pub, kp.Sign), nil
	}
	if cfg.Username != "" && cfg.Password != "" {
		return nats.UserInfo(cfg.Username, cfg.Password.Reveal()), nil
	}
	return nil, nil
}

// Notify publishes the event JSON, the generic provider's body, then
// flushes and checks the connection's last error, as Flux does. Any failure
// closes the connection, so the next attempt dials afresh: NATS keeps the
// last error, and a broken connection would fail every later event.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("error json-marshaling event: %w", err))
	}
	if _, ok := ctx.Deadline(); !ok {
		// FlushWithContext refuses a context without a deadline.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, notify.DefaultTimeout)
		defer cancel()
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return true, notify.Retryable(errClosed)
	}
	if err := n.publish(ctx, payload); err != nil {
		if n.conn != nil {
			n.conn.Close()
			n.conn = nil
		}
		return notify.Outcome(n.classify(err))
	}
	return false, nil
}

func (n *Notifier) publish(ctx context.Context, payload []byte) error {
	if n.conn == nil || !n.conn.IsConnected() {
		if n.conn != nil {
			n.conn.Close()
		}
		conn, err := nats.Connect(n.server, n.options(ctx)...)
		if err != nil {
			return fmt.Errorf("error connecting to server: %w", err)
		}
		n.conn = conn
	}
	if err := n.conn.Publish(n.subject, payload); err != nil {
		return fmt.Errorf("error publishing event to subject %s: %w", n.subject, err)
	}
	if err := n.conn.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("error publishing message to server: %w", err)
	}
	if err := n.conn.LastError(); err != nil {
		return fmt.Errorf("error publishing message to server: %w", err)
	}
	return nil
}

// options make one attempt: the dial and handshake are bound to ctx, and
// the client neither retries the first connect nor reconnects in the
// background (the queue's back-off does that).
func (n *Notifier) options(ctx context.Context) []nats.Option {
	opts := []nats.Option{
		nats.Name(ConnectionName),
		nats.NoReconnect(),
		nats.SetCustomDialer(ctxDialer{ctx}),
	}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(max(time.Until(deadline), time.Millisecond)))
	}
	if n.auth != nil {
		opts = append(opts, n.auth)
	}
	return opts
}

// ctxDialer dials with the context of the attempt that connects.
type ctxDialer struct{ ctx context.Context }

func (d ctxDialer) Dial(network, address string) (net.Conn, error) {
	var dialer net.Dialer
	return dialer.DialContext(d.ctx, network, address)
}
