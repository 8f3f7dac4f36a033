package config

import "time"

// ReloadStatus is the outcome of a Source's last reload.
type ReloadStatus struct {
	At time.Time `json:"at"`
	// Trigger is what asked for it: "SIGHUP", "file change".
	Trigger string `json:"trigger"`
	// Error is why it failed, which left the last good config in place.
	Error string `json:"error,omitempty"`
}

// Reloading is implemented by a Source that reloads in place, for /readyz
// to show a failed reload: the process stays ready on its last good
// config, and the detail says it is not the one on disk.
type Reloading interface {
	LastReload() (ReloadStatus, bool)
}
