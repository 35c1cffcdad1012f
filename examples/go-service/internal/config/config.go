// Package config reads the settings once from the environment, with errors
// that name the variable and say how to fix it.
package config

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// DefaultPort is where the service listens unless PORT says otherwise.
const DefaultPort = 8080

// Settings of one process.
type Settings struct {
	Host          string
	Port          int
	Drain         time.Duration
	ShutdownDelay time.Duration
}

// Error is a setting that is missing or malformed.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// FromEnv reads the settings through lookup (os.LookupEnv in main).
func FromEnv(lookup func(string) (string, bool)) (Settings, error) {
	settings := Settings{Host: "0.0.0.0", Port: DefaultPort, Drain: 10 * time.Second}
	if host, ok := lookup("HOST"); ok && host != "" {
		settings.Host = host
	}
	if raw, ok := lookup("PORT"); ok && raw != "" {
		port, err := strconv.Atoi(raw)
		if err != nil || port < 1 || port > 65535 {
			return Settings{}, &Error{fmt.Sprintf(
				"PORT=%q is not a TCP port: expected an integer from 1 to 65535", raw)}
		}
		settings.Port = port
	}
	var err error
	if settings.Drain, err = seconds(lookup, "DRAIN_SECONDS", settings.Drain); err != nil {
		return Settings{}, err
	}
	if settings.ShutdownDelay, err = seconds(lookup, "SHUTDOWN_DELAY_SECONDS", 0); err != nil {
		return Settings{}, err
	}
	if settings.ShutdownDelay >= settings.Drain {
		return Settings{}, &Error{fmt.Sprintf(
			"SHUTDOWN_DELAY_SECONDS=%g must be shorter than DRAIN_SECONDS=%g: the delay is "+
				"spent inside the drain budget, so requests in flight would get no time to "+
				"finish; lower the delay",
			settings.ShutdownDelay.Seconds(), settings.Drain.Seconds())}
	}
	return settings, nil
}

func seconds(lookup func(string) (string, bool), name string, fallback time.Duration) (time.Duration, error) {
	raw, ok := lookup(name)
	if !ok || raw == "" {
		return fallback, nil
	}
	value, err := strconv.ParseFloat(raw, 64)
	if err != nil || value < 0 || math.IsInf(value, 0) || math.IsNaN(value) || value > 86400 {
		return 0, &Error{fmt.Sprintf(
			"%s=%q is not a duration: expected seconds, such as 10 or 2.5 (at most 86400)", name, raw)}
	}
	return time.Duration(value * float64(time.Second)), nil
}
