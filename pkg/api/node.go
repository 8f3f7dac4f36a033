package api

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// nodeBudget caps the nodes one document may make the decoder visit.
// Aliases can make a small document expand into a huge one; real manifests,
// even a List export of hundreds of objects, stay far below this.
const nodeBudget = 1_000_000

// issue is a decoding problem at a path relative to the object.
type issue struct{ path, msg string }

// walker decodes a yaml.Node into a Go value the way Kubernetes' strict JSON
// decoding would, guided by the json tags of the target type. It does not
// stop at the first problem: every unknown field and wrong type is recorded
// with its path, and the rest of the object is still decoded. It never
// quotes a scalar's value, because the value may be Secret data.
type walker struct {
	issues []issue
	// ignore lists paths, relative to the object, of fields Kubernetes
	// accepts but Herald has no use for (status, managed metadata).
	ignore map[string]bool
	// fields records the path of every struct field present in the
	// document, for the per-API-version checks.
	fields []string
	// budget is shared by the objects of one document.
	budget *int
}

func newWalker(ignore map[string]bool, budget *int) *walker {
	return &walker{ignore: ignore, budget: budget}
}

func (w *walker) add(path, format string, args ...any) {
	w.issues = append(w.issues, issue{path, fmt.Sprintf(format, args...)})
}

// resolve follows aliases and charges the budget; nil means stop.
func (w *walker) resolve(n *yaml.Node, path string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 0 || n.Alias == nil {
			w.add(path, "unresolvable alias")
			return nil
		}
		n = n.Alias
	}
	if *w.budget--; *w.budget == 0 {
		w.add(path, "document too large after expanding aliases")
	}
	if *w.budget <= 0 {
		return nil
	}
	return n
}

func (w *walker) decode(n *yaml.Node, v reflect.Value, path string) {
	if n = w.resolve(n, path); n == nil || isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		w.decodeStruct(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		w.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.add(path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			w.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		w.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind == yaml.ScalarNode && isStringTag(n.ShortTag()) {
			v.SetString(n.Value)
		} else {
			w.add(path, "expected a string, got %s%s", describe(n), quoteHint(n))
		}
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			w.add(path, "expected a boolean (true or false), got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || v.OverflowInt(i) {
			w.add(path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	default:
		// A type added to types.go that this decoder does not know yet.
		w.add(path, "cannot decode into Go type %s", v.Type())
	}
}

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.add(path, "expected a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	w.eachKey(n, path, func(key string, val *yaml.Node) {
		child := joinPath(path, key)
		idx, ok := fields[key]
		if !ok {
			if !w.ignore[child] {
				w.add(child, "unknown field%s", suggest(key, fields))
			}
			return
		}
		w.fields = append(w.fields, child)
		w.decode(val, v.FieldByIndex(idx), child)
	})
}

func (w *walker) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.add(path, "expected a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		w.add(path, "cannot decode into Go type %s", v.Type())
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	w.eachKey(n, path, func(key string, val *yaml.Node) {
		elem := reflect.New(v.Type().Elem()).Elem()
		before := len(w.issues)
		w.decode(val, elem, path+"["+key+"]")
		// A value that failed to decode is left out rather than kept as
		// "", which would pass for a real (empty) value later on.
		if len(w.issues) == before {
			m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
		}
	})
	v.Set(m)
}

// eachKey calls fn for each key of a mapping, reporting keys that are not
// scalars, merge keys and duplicates instead of passing them on.
func (w *walker) eachKey(n *yaml.Node, path string, fn func(key string, val *yaml.Node)) {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := w.resolve(n.Content[i], path)
		if k == nil {
			return
		}
		if k.Kind != yaml.ScalarNode {
			w.add(path, "mapping keys must be scalars, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			// Kubernetes' decoder expands merge keys; ours does not, and
			// says so rather than silently dropping the merged fields.
			w.add(joinPath(path, k.Value), "YAML merge keys are not supported")
			continue
		}
		if seen[k.Value] {
			w.add(joinPath(path, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, n.Content[i+1])
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isStringTag accepts timestamps as strings: a date-like label value is text
// to Kubernetes, which reads YAML without a timestamp type.
func isStringTag(tag string) bool {
	return tag == "!!str" || tag == "!!timestamp"
}

// describe names a node's type for messages, never its value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		case "!!binary":
			return "binary data"
		default:
			// The tag is not named: an unquoted value starting with '!',
			// such as a password, is read as one.
			return "a value with a custom tag"
		}
	}
	return "an unsupported YAML node"
}

func quoteHint(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool":
		return " (quote the value to make it a string)"
	}
	if n.Kind == yaml.ScalarNode && !strings.HasPrefix(n.ShortTag(), "!!") {
		return " (quote the value to make it a string)"
	}
	return ""
}

// suggest offers the known field a misspelt key most likely meant.
func suggest(key string, fields map[string][]int) string {
	best, bestDist := "", 3
	for name := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if d < bestDist || d == bestDist && best != "" && name < best {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance, capped for long inputs, which
// cannot be typos of a field name anyway.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var fieldCache sync.Map // reflect.Type → map[string][]int

// fieldsOf maps the JSON names of a struct's fields, inlined structs
// included, to their field index paths.
func fieldsOf(t reflect.Type) map[string][]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string][]int)
	}
	fields := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		inline := slices.Contains(strings.Split(opts, ","), "inline") || f.Anonymous && name == ""
		if inline && f.Type.Kind() == reflect.Struct {
			for n, idx := range fieldsOf(f.Type) {
				fields[n] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = []int{i}
	}
	fieldCache.Store(t, fields)
	return fields
}
