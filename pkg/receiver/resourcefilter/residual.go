package resourcefilter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/heraldhq/herald/pkg/fluxcel"
)

// MaxResidualBytes bounds a residual as stored and sent: its JSON string,
// quotes and escapes included. A reconcile request is then at most a few
// KiB beyond it, well within a DynamoDB item (400 KB), and a poll page of
// 100 requests stays near 1 MiB, under the forwarder's bound on a poll
// answer and Lambda's 6 MB response.
const MaxResidualBytes = 8 << 10

// residualEnv parses residuals: Flux's options, res, and cel.bind, which
// carries the values of req and claims a residual still reads. It only
// parses (a residual is not checked again), so literals of mixed types
// are fine.
var residualEnv = sync.OnceValues(func() (*cel.Env, error) {
	return fluxcel.NewEnv([]string{varRes}, ext.Bindings())
})

// Residual is the part of a Receiver's filters left for the cluster,
// ready to evaluate. It is safe for concurrent use.
type Residual struct {
	src  string
	prog cel.Program
}

// ParseResidual parses a residual as the receiver sent it.
func ParseResidual(src string) (*Residual, error) {
	env, err := residualEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("failed to parse the CEL expression '%s': %s", src, iss.String())
	}
	if bad := unresolved(freeRefs(ast.NativeRep().Expr())); len(bad) > 0 {
		return nil, fmt.Errorf("the CEL expression '%s' reads %s, which only the receiver knows", src, strings.Join(bad, " and "))
	}
	prog, err := fluxcel.Program(env, ast)
	if err != nil {
		return nil, err
	}
	return &Residual{src: src, prog: prog}, nil
}

// String returns the residual's source.
func (r *Residual) String() string { return r.src }

// Match evaluates the residual against an object: res is its metadata as
// Flux's filters see it (apiVersion, kind and metadata, as JSON). Its
// errors are Flux's texts.
func (r *Residual) Match(ctx context.Context, res map[string]any) (bool, error) {
	val, _, err := r.prog.ContextEval(ctx, map[string]any{varRes: orEmpty(res)})
	if err != nil {
		return false, evalError(r.src, contextDone(ctx, err))
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, notBoolean(r.src)
	}
	return bool(b), nil
}

// unresolved lists the call's variables that refs still reads.
func unresolved(refs map[string][][]string) []string {
	var out []string
	for _, name := range []string{varReq, varClaims} {
		if _, ok := refs[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// checkResidual makes sure the forwarder can take text: it parses, reads
// nothing but res, and fits in MaxResidualBytes.
func checkResidual(text string) error {
	if n := encodedLen(text); n > MaxResidualBytes {
		return fmt.Errorf("the part left for the cluster to evaluate is %d bytes, over Herald's limit of %d; read less of req or claims in the part of the filter that also reads res", n, MaxResidualBytes)
	}
	if _, err := ParseResidual(text); err != nil {
		return fmt.Errorf("the part left for the cluster does not parse back: %w", err)
	}
	return nil
}

// encodedLen is the length of s as a JSON string.
func encodedLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b)
}

// Both is the decision of two filters that must both select an object:
// Flux evaluates the first (spec.resourceFilter) and, only where it is
// true, the second (the resource's filter), so a first that fails is an
// error even where the second is false. "a ? b : false" keeps that order.
func Both(first, second Decision) (Decision, error) {
	switch {
	case first.Residual == "" && !first.Match:
		return first, nil
	case first.Residual == "":
		return second, nil
	case second.Residual == "" && second.Match:
		return first, nil
	case second.Residual == "":
		// Already false for every object; that the first might fail
		// for some is not worth a request.
		return second, nil
	}
	text := "(" + first.Residual + ") ? (" + second.Residual + ") : false"
	if err := checkResidual(text); err != nil {
		return Decision{}, err
	}
	return Decision{Residual: text}, nil
}
