// Command presetjson prints a built-in model preset (train.Preset) as an HF
// config.json, so the PyTorch baseline in testdata/bench times exactly the
// shapes `tvlt bench --preset NAME` times and the two never drift.
//
//	go run ./testdata/bench/presetjson small > /tmp/small.json
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/tvlt-go/tvlt/train"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: presetjson PRESET (one of %s)\n", strings.Join(train.Presets, ", "))
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(name string) error {
	cfg, err := train.Preset(name)
	if err != nil {
		return fmt.Errorf("presetjson: %w", err)
	}
	b, err := cfg.Bytes()
	if err != nil {
		return fmt.Errorf("presetjson: preset %s: %w", name, err)
	}
	_, err = os.Stdout.Write(b)
	return err
}
