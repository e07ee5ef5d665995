// Command tvlt pretrains, fine-tunes, evaluates and benchmarks TVLT models.
//
//	tvlt demo                      synthetic data → pretrain → fine-tune → metrics
//	tvlt pretrain --data M --out D  MAE + matching pretraining
//	tvlt finetune --data M --out D --task classification|regression|retrieval
//	tvlt eval --data M --ckpt D     metrics as JSON (last stdout line)
//	tvlt predict --data M --ckpt D --out F.jsonl
//	tvlt bench --preset P --task pretrain|finetune|infer
//
// Every subcommand has --help. Subcommands register themselves in their
// own files (commands map), so new ones need no change here.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/tvlt-go/tvlt/train"
	"github.com/tvlt-go/tvlt/train/dist"
)

// command is one subcommand: a one-line summary for the overview, and run,
// which parses its own flags from args and writes to stdout/stderr.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by each subcommand file's init.
var commands = map[string]command{}

// parallelCommands are the commands that run as ranks under mpirun (a
// -tags mpi build); the others refuse to start there.
var parallelCommands = map[string]bool{"pretrain": true, "finetune": true, "bench": true}

// errUsage marks a command-line mistake (exit status 2, usage already shown).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0 success,
// 1 failure, 2 usage error, 130 interrupted (checkpoint saved).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		overview(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tvlt: unknown command %q\n\n", args[0])
		overview(stderr)
		return 2
	}
	var err error
	if n := dist.Launched(); n > 1 && !parallelCommands[args[0]] {
		// Every rank would do the whole job and write the same files.
		err = fmt.Errorf("runs in one process, but mpirun started %d; only pretrain, finetune and bench run data-parallel", n)
	} else {
		err = cmd.run(ctx, args[1:], stdout, stderr)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, train.ErrInterrupted):
		fmt.Fprintf(stderr, "tvlt %s: %v\n", args[0], err)
		return 130
	}
	fmt.Fprintf(stderr, "tvlt %s: %v\n", args[0], err)
	return 1
}

func overview(w io.Writer) {
	fmt.Fprintln(w, "tvlt: TVLT (Textless Vision-Language Transformer) training in Go")
	fmt.Fprintln(w, "\nUsage: tvlt <command> [flags]   (tvlt <command> --help for details)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nStart with: tvlt demo")
}

// newFlags makes a subcommand's FlagSet whose --help prints the usage
// text (synopsis, description, flags, examples) to stderr.
func newFlags(name, synopsis, description, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tvlt "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	synopses.Store(fs, synopsis)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tvlt %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(stderr, "\nExamples:\n%s\n", strings.TrimRight(examples, "\n"))
		}
	}
	return fs
}

// synopses holds each FlagSet's synopsis for the short usage line.
var synopses sync.Map // *flag.FlagSet → string

// usageError reports a command-line mistake the way every command does: a
// short usage line and a pointer to --help, then the error as the last
// line (the full help would scroll it away). It returns errUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	syn, _ := synopses.Load(fs)
	s, _ := syn.(string)
	w := fs.Output()
	fmt.Fprintf(w, "Usage: %s %s\n", fs.Name(), s)
	fmt.Fprintf(w, "Run '%s --help' for every flag and examples.\n", fs.Name())
	fmt.Fprintf(w, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	return errUsage
}

// parse parses flags, turning parse errors into errUsage and rejecting
// stray positional arguments. --help prints the full help; a mistake
// prints usageError's short usage with the error last.
func parse(fs *flag.FlagSet, args []string) error {
	var msg bytes.Buffer
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(&msg)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		return usageError(fs, "%s", strings.TrimSpace(msg.String()))
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// isSet says whether the command line set the flag.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// required reports missing mandatory flags.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if !isSet(fs, n) {
			return usageError(fs, "--%s is required", n)
		}
	}
	return nil
}
