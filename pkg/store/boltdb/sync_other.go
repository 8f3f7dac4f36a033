//go:build !linux

package boltdb

import "os"

// syncData syncs f; where fdatasync is not at hand, with fsync.
func syncData(f *os.File) error { return f.Sync() }
