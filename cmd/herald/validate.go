package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/api"
)

const validateUsage = `Usage: herald validate -f PATH [-f PATH ...]

Checks Provider, Alert, Receiver and Secret manifests as Flux's API server
and controller would, plus the references between them. PATH is a file or a
directory (read recursively: *.yaml, *.yml, *.json; hidden entries skipped).
Problems go to stderr and make the exit status 1; otherwise each object is
summarised on stdout, without Secret values.
`

// pathList is a repeatable flag.
type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(v string) error { *p = append(*p, v); return nil }

// validateCommand is `herald validate`.
type validateCommand struct{}

func runValidate(args []string, stdout, stderr io.Writer) int {
	return validateCommand{}.run(args, stdout, stderr)
}

func (c validateCommand) run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("validate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var paths pathList
	flags.Var(&paths, "f", "manifest file or directory; repeatable")
	flags.Usage = func() { fmt.Fprint(stderr, validateUsage) }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(paths) == 0 || flags.NArg() > 0 {
		fmt.Fprint(stderr, "herald validate: need -f PATH and no other arguments\n\n"+validateUsage)
		return 2
	}

	cfg, err := api.LoadPaths(paths...)
	var loadErrs api.ErrorList
	if err != nil && !errors.As(err, &loadErrs) {
		fmt.Fprintf(stderr, "herald validate: %v\n", err)
		return 1
	}
	res := api.Validate(cfg, api.ValidateOptions{})
	checkReceiverCEL(cfg, &res)

	errCount := 0
	for _, p := range report(loadErrs, res) {
		if p.warning {
			fmt.Fprintln(stderr, "warning: "+p.Error())
			continue
		}
		fmt.Fprintln(stderr, p.Error())
		errCount++
	}
	if errCount > 0 {
		fmt.Fprintf(stderr, "herald validate: %s, %s\n", plural(errCount, "error"), plural(len(res.Warnings), "warning"))
		return 1
	}
	lines := summary(cfg)
	if len(lines) == 0 {
		fmt.Fprintf(stderr, "warning: no Provider, Alert, Receiver or Secret in %s\n", strings.Join(paths, ", "))
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return 0
}

type problem struct {
	*api.FieldError
	warning bool
}

// report merges load and validation problems in file and document order.
// A validation error inside a field that already failed to decode is left
// out: it is the same mistake seen a second time ("expected a string" then
// "required").
func report(loadErrs api.ErrorList, res api.Result) []problem {
	var out []problem
	for _, e := range loadErrs {
		out = append(out, problem{e, false})
	}
	add := func(errs []error, warning bool) {
		for _, err := range errs {
			var fe *api.FieldError
			if !errors.As(err, &fe) {
				fe = &api.FieldError{Index: -1, Message: err.Error()}
			}
			if !warning && slices.ContainsFunc(loadErrs, func(l *api.FieldError) bool { return within(fe, l) }) {
				continue
			}
			out = append(out, problem{fe, warning})
		}
	}
	add(res.Errors, false)
	add(res.Warnings, true)
	slices.SortStableFunc(out, func(a, b problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Index, b.Index))
	})
	return out
}

// within reports whether e is about the field l reports, or a part of it.
func within(e, l *api.FieldError) bool {
	if e.File != l.File || e.Index != l.Index || l.Field == "" {
		return false
	}
	rest, ok := strings.CutPrefix(e.Field, l.Field)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// summary describes each object in one line, never with Secret values.
func summary(cfg *api.Config) []string {
	var lines []string
	for _, p := range cfg.Providers {
		var notes []string
		for _, ref := range []struct {
			what string
			ref  *api.LocalObjectReference
		}{{"secret", p.Spec.SecretRef}, {"cert secret", p.Spec.CertSecretRef}, {"proxy secret", p.Spec.ProxySecretRef}} {
			if ref.ref != nil {
				notes = append(notes, ref.what+": "+ref.ref.Name)
			}
		}
		lines = append(lines, line(api.KindProvider, p.Metadata, p.Spec.Type, p.Spec.Suspend, notes...))
	}
	for _, a := range cfg.Alerts {
		var notes []string
		if a.Spec.EventSeverity == "error" {
			notes = append(notes, "errors only")
		}
		text := fmt.Sprintf("%s → provider %s", plural(len(a.Spec.EventSources), "event source"), a.Spec.ProviderRef.Name)
		lines = append(lines, line(api.KindAlert, a.Metadata, text, a.Spec.Suspend, notes...))
	}
	for _, r := range cfg.Receivers {
		text := fmt.Sprintf("%s, %s", r.Spec.Type, plural(len(r.Spec.Resources), "resource"))
		lines = append(lines, line(api.KindReceiver, r.Metadata, text, r.Spec.Suspend))
	}
	for _, s := range cfg.Secrets {
		lines = append(lines, line(api.KindSecret, s.Metadata, plural(len(s.Data), "key"), false))
	}
	return lines
}

func line(kind string, m api.ObjectMeta, text string, suspended bool, notes ...string) string {
	if c := m.Cluster(); c != "" {
		notes = append(notes, "cluster: "+c)
	}
	if suspended {
		notes = append(notes, "suspended")
	}
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, ", ") + ")"
	}
	return api.Ref(kind, m) + ": " + text
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
