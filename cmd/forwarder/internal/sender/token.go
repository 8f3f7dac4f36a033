package sender

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"time"
)

// TokenFile reads the cluster token from a file mounted from a Secret, and
// reads it again when the file changes, so a rotated Secret takes effect
// without a restart. The token is never part of an error.
type TokenFile struct {
	Path string

	mu    sync.Mutex
	mtime time.Time
	size  int64
	token []byte
}

// Token returns the current token.
func (f *TokenFile) Token() ([]byte, error) {
	st, err := os.Stat(f.Path)
	if err != nil {
		return nil, errors.New("cluster token file " + f.Path + " cannot be read")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != nil && st.ModTime().Equal(f.mtime) && st.Size() == f.size {
		return f.token, nil
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, errors.New("cluster token file " + f.Path + " cannot be read")
	}
	// A Secret written with `echo` ends in a newline that is not the token.
	token := bytes.TrimSpace(data)
	if len(token) == 0 {
		return nil, errors.New("cluster token file " + f.Path + " is empty")
	}
	f.token, f.mtime, f.size = token, st.ModTime(), st.Size()
	return f.token, nil
}
