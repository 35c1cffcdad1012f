package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(values map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, ok := values[name]
		return value, ok
	}
}

func TestDefaults(t *testing.T) {
	settings, err := FromEnv(env(nil))

	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Host: "0.0.0.0", Port: 8080, Drain: 10 * time.Second}
	if settings != want {
		t.Errorf("settings = %+v, want %+v", settings, want)
	}
}

func TestEverySettingIsRead(t *testing.T) {
	settings, err := FromEnv(env(map[string]string{
		"HOST": "127.0.0.1", "PORT": "9090", "DRAIN_SECONDS": "2.5", "SHUTDOWN_DELAY_SECONDS": "1",
	}))

	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Host: "127.0.0.1", Port: 9090, Drain: 2500 * time.Millisecond, ShutdownDelay: time.Second}
	if settings != want {
		t.Errorf("settings = %+v, want %+v", settings, want)
	}
}

func TestBadSettingsNameTheVariableAndTheFix(t *testing.T) {
	cases := []struct {
		values map[string]string
		want   string
	}{
		{map[string]string{"PORT": "80a"}, `PORT="80a" is not a TCP port`},
		{map[string]string{"PORT": "0"}, `PORT="0" is not a TCP port`},
		{map[string]string{"PORT": "65536"}, `PORT="65536" is not a TCP port`},
		{map[string]string{"DRAIN_SECONDS": "soon"}, `DRAIN_SECONDS="soon" is not a duration`},
		{map[string]string{"DRAIN_SECONDS": "-1"}, `DRAIN_SECONDS="-1" is not a duration`},
		{map[string]string{"DRAIN_SECONDS": "NaN"}, `DRAIN_SECONDS="NaN" is not a duration`},
		{map[string]string{"SHUTDOWN_DELAY_SECONDS": "10"}, "must be shorter than DRAIN_SECONDS=10"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := FromEnv(env(c.values))

			var configError *Error
			if !errors.As(err, &configError) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want a config error with %q", err, c.want)
			}
		})
	}
}
