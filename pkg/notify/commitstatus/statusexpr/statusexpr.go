// Package statusexpr evaluates a Provider's spec.commitStatusExpr, the CEL
// expression that names a commit status (behaviour reference §4.3). It is
// apart from package commitstatus so that the providers, which only take the
// id, do not link CEL; the dispatcher computes the id when it plans an
// event's deliveries, since the expression reads the Alert.
package statusexpr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/fluxcel"
)

// ErrorPrefix starts every error of spec.commitStatusExpr, as Flux
// reports it on the Alert.
const ErrorPrefix = "failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: "

// Expr is a compiled spec.commitStatusExpr. Compile it once, when the
// Provider is loaded; it is safe for concurrent use.
type Expr struct {
	src  string
	prog cel.Program
}

// Input holds the variables of a commitStatusExpr. Event is the event
// after metadata combination (§2.3), so event.metadata holds unprefixed
// keys. Alert and Provider are the objects as maps with their YAML field
// names (ObjectMap makes them); the Provider's metadata.uid should be the
// UID Herald uses for it, so that an expression reads the same UID as
// DefaultID.
type Input struct {
	Event    event.Event
	Alert    map[string]any
	Provider map[string]any
}

// Compile compiles src as Flux does (fluxcd/pkg/runtime/cel with
// WithCompile, WithOutputType(string) and WithStructVariables("event",
// "alert", "provider")), in the same environment. Its error is Flux's whole
// text, ErrorPrefix included, since Flux compiles at every event and
// reports it there.
func Compile(src string) (*Expr, error) {
	e, err := compile(src)
	if err != nil {
		return nil, fmt.Errorf("%sfailed to compile expression: %w", ErrorPrefix, err)
	}
	return e, nil
}

func compile(src string) (*Expr, error) {
	env, err := fluxcel.NewEnv([]string{"event", "alert", "provider"})
	if err != nil {
		return nil, err
	}
	ast, err := fluxcel.Compile(env, src, cel.StringType)
	if err != nil {
		return nil, err
	}
	prog, err := fluxcel.Program(env, ast)
	if err != nil {
		return nil, err
	}
	return &Expr{src: src, prog: prog}, nil
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// Eval returns the status id for in. Its errors are Flux's texts,
// ErrorPrefix included; evaluation stops when ctx is done.
func (e *Expr) Eval(ctx context.Context, in Input) (string, error) {
	ev, err := EventMap(in.Event)
	if err != nil {
		return "", fmt.Errorf("%sfailed to convert event to map: %w", ErrorPrefix, err)
	}
	vars := map[string]any{"event": ev, "alert": orEmpty(in.Alert), "provider": orEmpty(in.Provider)}
	val, _, err := e.prog.ContextEval(ctx, vars)
	if err != nil {
		return "", fmt.Errorf("%sfailed to evaluate the CEL expression '%s': %w", ErrorPrefix, e.src, err)
	}
	s, ok := val.(types.String)
	if !ok {
		return "", fmt.Errorf("%sfailed to evaluate CEL expression as string: '%s'", ErrorPrefix, e.src)
	}
	return string(s), nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// EventMap is the event as the expression sees it: its JSON form as a map,
// as Kubernetes' unstructured converter gives it to Flux's expression.
func EventMap(ev event.Event) (map[string]any, error) {
	return ObjectMap(ev)
}

// ObjectMap converts an object (an api.Alert or api.Provider, say) to the
// map of its JSON form, which is what the expression's alert and provider
// variables hold.
func ObjectMap(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}
