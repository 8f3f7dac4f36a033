package boltdb

import (
	"os"
	"syscall"
)

// syncData syncs f's data, and its metadata only where reading the data
// back needs it: the log's segments never change size when written.
func syncData(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
