package notify

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"
	"strconv"
)

// Digest sums every field of c, secrets included, so that the owner of
// built notifiers can tell whether a Provider's resolved config changed
// without keeping a second copy of its secrets. Each part is length-prefixed,
// so that no two different configs collide by shifting bytes from one part
// into the next. A field added to Config must be added here too; a test
// checks that every field counts.
func (c Config) Digest() [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{c.Type, c.Name, c.Namespace, c.UID, c.Address.Reveal(), c.Channel,
		c.Username, c.Password.Reveal(), c.Token.Reveal(), c.Proxy.Reveal(), strconv.FormatInt(int64(c.Timeout), 10)} {
		writePart(h, s)
	}
	writeSecrets(h, c.Headers)
	writeSecrets(h, c.SecretData)
	// The client stands for its proxy and TLS settings: the transport pool
	// hands out one client per distinct settings.
	writePart(h, fmt.Sprintf("%p", c.HTTPClient))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func writePart(h hash.Hash, s string) {
	fmt.Fprintf(h, "%d:%s", len(s), s)
}

// writeSecrets writes m in key order, with its length first so that it
// cannot be mistaken for the parts around it.
func writeSecrets(h hash.Hash, m map[string]Secret) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	writePart(h, strconv.Itoa(len(keys)))
	for _, k := range keys {
		writePart(h, k)
		writePart(h, m[k].Reveal())
	}
}
