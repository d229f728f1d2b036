//go:build race

package soak

// raceEnabled: the test binary runs under the race detector, so loomd is
// built with it too (unless SOAK_RACE says otherwise).
const raceEnabled = true
