//go:build !race

package emf

const raceEnabled = false
