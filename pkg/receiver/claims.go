package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/fluxcel"
)

// claimsEnv is the CEL environment of an oidcProvider's variables and
// validations: Flux's (fluxcd/pkg/runtime/cel with WithStructVariables
// "claims" and "vars"), the same options and extensions, so that an
// expression means here what it means there.
var claimsEnv = sync.OnceValues(func() (*cel.Env, error) {
	return fluxcel.NewEnv([]string{"claims", "vars"})
})

// compileClaimsExpr compiles one expression; a validation must be a bool.
func compileClaimsExpr(src string, boolean bool) (cel.Program, error) {
	env, err := claimsEnv()
	if err != nil {
		return nil, err
	}
	var out *cel.Type
	if boolean {
		out = cel.BoolType
	}
	ast, err := fluxcel.Compile(env, src, out)
	if err != nil {
		return nil, err
	}
	return fluxcel.Program(env, ast)
}

type claimVariable struct {
	name, src string
	prog      cel.Program
}

type claimValidation struct {
	message, src string
	prog         cel.Program
}

// claimRules are an oidcProvider's compiled variables and validations.
type claimRules struct {
	variables   []claimVariable
	validations []claimValidation
}

func compileClaimRules(p *api.OIDCProvider) (*claimRules, error) {
	rules := &claimRules{}
	for _, v := range p.Variables {
		prog, err := compileClaimsExpr(v.Expression, false)
		if err != nil {
			return nil, fmt.Errorf("invalid expression for variable %q: %w", v.Name, err)
		}
		rules.variables = append(rules.variables, claimVariable{name: v.Name, src: v.Expression, prog: prog})
	}
	for _, v := range p.Validations {
		prog, err := compileClaimsExpr(v.Expression, true)
		if err != nil {
			return nil, fmt.Errorf("invalid expression for validation %q: %w", v.Message, err)
		}
		rules.validations = append(rules.validations, claimValidation{message: v.Message, src: v.Expression, prog: prog})
	}
	return rules, nil
}

// compiledRules is a compilation's outcome, kept whether it succeeded or
// not, so that a provider that does not compile is not compiled per call.
type compiledRules struct {
	rules *claimRules
	err   error
}

// claimRules returns p's compiled rules. They are cached under a digest of
// the expressions and their names and messages, so an edited spec compiles
// anew and never meets the programs of its previous version.
func (v *Verifier) claimRules(p *api.OIDCProvider) (*claimRules, error) {
	key, err := rulesKey(p)
	if err != nil {
		return nil, err
	}
	if c, ok := v.rules.get(key); ok {
		return c.rules, c.err
	}
	rules, err := compileClaimRules(p)
	v.rules.put(key, compiledRules{rules, err})
	return rules, err
}

func rulesKey(p *api.OIDCProvider) (string, error) {
	b, err := json.Marshal(struct {
		V []api.OIDCVariable
		R []api.OIDCValidates
	}{p.Variables, p.Validations})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// evaluate computes the variables in order, each seeing the claims and the
// variables before it as vars.<name>, then every validation. The messages
// of the validations that fail are joined into one error, as in Flux.
func (r *claimRules) evaluate(ctx context.Context, claims map[string]any) error {
	vars := map[string]any{}
	data := map[string]any{"claims": claims, "vars": vars}
	for _, v := range r.variables {
		val, _, err := v.prog.ContextEval(ctx, data)
		if err != nil {
			return fmt.Errorf("failed to evaluate variable %q: failed to evaluate the CEL expression '%s': %w", v.name, v.src, err)
		}
		vars[v.name] = val.Value()
	}
	var failed []string
	for _, v := range r.validations {
		val, _, err := v.prog.ContextEval(ctx, data)
		if err != nil {
			return fmt.Errorf("failed to evaluate validation: failed to evaluate the CEL expression '%s': %w", v.src, err)
		}
		ok, isBool := val.(types.Bool)
		if !isBool {
			return fmt.Errorf("failed to evaluate validation: failed to evaluate CEL expression as boolean: '%s'", v.src)
		}
		if !ok {
			failed = append(failed, v.message)
		}
	}
	if len(failed) > 0 {
		return errors.New("token validation failed: " + strings.Join(failed, "; "))
	}
	return nil
}

// CheckOIDC compiles the CEL expressions of spec.oidcProviders, as Flux's
// Receiver reconciler does before it marks the Receiver ready (reason
// InvalidCELExpression), and returns one error per expression that does not
// compile. Each has Field and Message set; the caller knows the file,
// document and object. Empty expressions are left to api.Validate, which
// reports them as required.
func CheckOIDC(spec *api.ReceiverSpec) []*api.FieldError {
	var errs []*api.FieldError
	check := func(field, src string, boolean bool) {
		if src == "" {
			return
		}
		if _, err := compileClaimsExpr(src, boolean); err != nil {
			errs = append(errs, &api.FieldError{Index: -1, Field: field, Message: "invalid CEL expression: " + err.Error()})
		}
	}
	for i, p := range spec.OIDCProviders {
		for j, v := range p.Variables {
			check(fmt.Sprintf("spec.oidcProviders[%d].variables[%d].expression", i, j), v.Expression, false)
		}
		for j, v := range p.Validations {
			check(fmt.Sprintf("spec.oidcProviders[%d].validations[%d].expression", i, j), v.Expression, true)
		}
	}
	return errs
}
