// Package config is loomd's typed configuration: defaults, the YAML file,
// and validation that names the field (and line) that is wrong.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole loomd configuration.
type Config struct {
	OpenFlow OpenFlow `yaml:"openflow"`
	Apps     Apps     `yaml:"apps"`
}

// OpenFlow configures the switch-facing side.
type OpenFlow struct {
	// Listen holds listener addresses: "tcp:HOST:PORT", ":PORT", "unix:PATH".
	Listen []string `yaml:"listen"`
	// EchoInterval is the keepalive period; a switch silent for two
	// intervals is dropped.
	EchoInterval Duration `yaml:"echo_interval"`
	// HelloTimeout bounds the wait for a connecting peer's HELLO.
	HelloTimeout Duration `yaml:"hello_timeout"`
}

// Apps configures the built-in apps.
type Apps struct {
	L2 L2 `yaml:"l2"`
}

// L2 configures the learning switch.
type L2 struct {
	// MaxMACs bounds the MAC table of each switch.
	MaxMACs int `yaml:"max_macs"`
}

// Duration is a time.Duration written as "5s", "250ms".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 5s or 250ms", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Default returns the configuration loomd runs with when given none.
func Default() Config {
	return Config{
		OpenFlow: OpenFlow{Listen: []string{"tcp::6653"}, EchoInterval: Duration(5 * time.Second), HelloTimeout: Duration(5 * time.Second)},
		Apps:     Apps{L2: L2{MaxMACs: 8192}},
	}
}

// Load reads path over the defaults. Unknown keys are errors, so a typo
// never silently leaves a default in force.
func Load(path string) (Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) /* empty file: all defaults */ {
		return c, fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field and names the first one that is wrong.
func (c Config) Validate() error {
	if len(c.OpenFlow.Listen) == 0 {
		return errors.New("openflow.listen: at least one address is required")
	}
	for i, l := range c.OpenFlow.Listen {
		if strings.TrimSpace(l) == "" || l == "unix:" || l == "tcp:" {
			return fmt.Errorf("openflow.listen[%d]: empty address", i)
		}
	}
	if d := time.Duration(c.OpenFlow.EchoInterval); d < 100*time.Millisecond || d > time.Hour {
		return fmt.Errorf("openflow.echo_interval: %v is outside 100ms..1h", d)
	}
	if d := time.Duration(c.OpenFlow.HelloTimeout); d < 100*time.Millisecond || d > time.Minute {
		return fmt.Errorf("openflow.hello_timeout: %v is outside 100ms..1m", d)
	}
	if c.Apps.L2.MaxMACs < 1 || c.Apps.L2.MaxMACs > 1<<20 {
		return fmt.Errorf("apps.l2.max_macs: %d is outside 1..1048576", c.Apps.L2.MaxMACs)
	}
	return nil
}
