// Package cdevents checks that a webhook body is a CDEvents v0.4 event that
// passes its published JSON schema, judging it as Flux does with the
// CDEvents Go SDK (v0.5.0): the event type is parsed and looked up among
// the spec's events, and the event is validated as the SDK's generated Go
// types would encode it again (see roundTrip).
//
// The SDK itself is not used: it pulls in the CloudEvents SDK, whose
// json-iterator/reflect2 dependency turns off the linker's removal of
// unused methods (about +10 MB for the receiver Lambda, +19 MB for
// dispatch), and it compiles every schema of every spec version at init.
// Here the v0.4.1 schemas are embedded (schemas/, see its README) and
// each is compiled when its event type is first seen.
package cdevents

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/package-url/packageurl-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/mod/semver"
)

// SpecVersion is the CDEvents spec release whose schemas are embedded.
const SpecVersion = "0.4.1"

const schemaBase = "https://cdevents.dev/" + SpecVersion + "/schema/"

//go:embed schemas/*.json schemas/links/*.json
var schemaFiles embed.FS

// The event type grammar of the SDK: dev.cdevents.<subject>.<predicate>.<version>,
// and dev.cdeventsx.<tool>-<subject>.<predicate>.<version> for custom events.
var (
	eventType  = regexp.MustCompile(`^dev\.cdevents\.([a-z]+)\.([a-z]+)\.(.*)$`)
	customType = regexp.MustCompile(`^dev\.cdeventsx\.([a-z]+)-([a-z]+)\.([a-z]+)\.(.*)$`)
)

// eventSchema is one event type's compiled schema and the version of the
// type it pins.
type eventSchema struct {
	schema  *jsonschema.Schema
	version string
}

// registry compiles an event type's schema on its first use: all of them
// take about 100 ms, one a few.
type registry struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	names    map[string]bool // schema names: "<subject>-<predicate>-event", "custom"
	compiled map[string]eventSchema
}

var schemas = sync.OnceValues(load)

// load adds every embedded schema to a compiler.
func load() (*registry, error) {
	r := &registry{compiler: jsonschema.NewCompiler(), names: map[string]bool{}, compiled: map[string]eventSchema{}}
	// Formats are not asserted, as in the SDK; checkTags applies the
	// checks the SDK's Go types add (timestamp, sources, artifactId).
	err := fs.WalkDir(schemaFiles, "schemas", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := schemaFiles.ReadFile(path)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path, "schemas/"), ".json")
		if !strings.HasPrefix(name, "links/") {
			r.names[name] = true
		}
		return r.compiler.AddResource(schemaBase+name, doc)
	})
	return r, err
}

// schema returns the compiled schema called name, and whether there is one.
func (r *registry) schema(name string) (eventSchema, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if es, ok := r.compiled[name]; ok {
		return es, true, nil
	}
	if !r.names[name] {
		return eventSchema{}, false, nil
	}
	s, err := r.compiler.Compile(schemaBase + name)
	if err != nil {
		return eventSchema{}, false, err
	}
	es := eventSchema{schema: s}
	if name != "custom" {
		// "<subject>-<predicate>-event" pins "dev.cdevents.<subject>.<predicate>.<version>".
		var pinned string
		if typ := s.Properties["context"].Properties["type"]; typ != nil && typ.Enum != nil && len(typ.Enum.Values) == 1 {
			pinned, _ = typ.Enum.Values[0].(string)
		}
		m := eventType.FindStringSubmatch(pinned)
		if m == nil || m[1]+"-"+m[2]+"-event" != name {
			return eventSchema{}, false, fmt.Errorf("schema %s pins event type %q", name, pinned)
		}
		es.version = m[3]
	}
	r.compiled[name] = es
	return es, true, nil
}

// Validate returns nil if body is a valid CDEvents v0.4 event, else why
// not, in the SDK's words where the SDK has them.
func Validate(body []byte) error {
	reg, err := schemas()
	if err != nil {
		return fmt.Errorf("embedded CDEvents schemas: %w", err)
	}
	var head struct {
		Context struct {
			Type      string `json:"type"`
			SchemaURI string `json:"schemaUri"`
		} `json:"context"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return err
	}
	es, err := lookup(reg, head.Context.Type)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	event, err := roundTrip(es.schema, doc)
	if err != nil {
		return err
	}
	if err := es.schema.Validate(event); err != nil {
		return err
	}
	if head.Context.SchemaURI != "" {
		// The SDK validates against a custom schema only if it was loaded
		// into its registry beforehand; Flux loads none.
		return fmt.Errorf("schema with id %s could not be found in the local registry", head.Context.SchemaURI)
	}
	return nil
}

// lookup finds the schema of an event type as the SDK does: by subject and
// predicate, and only if the major version is the spec's.
func lookup(reg *registry, typ string) (eventSchema, error) {
	if typ == "" {
		// The SDK treats a missing type as a zero one.
		return eventSchema{}, fmt.Errorf("unknown event type dev.cdevents.<undefined-subject>.<undefined-predicate>.<undefined-version>")
	}
	if m := eventType.FindStringSubmatch(typ); m != nil {
		es, ok, err := reg.schema(m[1] + "-" + m[2] + "-event")
		if err != nil {
			return eventSchema{}, fmt.Errorf("embedded CDEvents schemas: %w", err)
		}
		if !ok {
			return eventSchema{}, fmt.Errorf("unknown event type %s", typ)
		}
		if semver.Major("v"+m[3]) != semver.Major("v"+es.version) {
			return eventSchema{}, fmt.Errorf("sdk event version %s not compatible with %s", es.version, m[3])
		}
		return es, nil
	}
	if customType.MatchString(typ) {
		es, _, err := reg.schema("custom")
		return es, err
	}
	return eventSchema{}, fmt.Errorf("cannot parse event type %s", typ)
}

// roundTrip reshapes a decoded event as decoding it into the SDK's
// generated Go types and encoding it again would, since that encoding is
// what the SDK validates: properties a schema does not declare are
// dropped (field names match without case, as in encoding/json); a
// required property that is missing or null appears with its zero value;
// an optional one that is null or an empty string is left out; the
// timestamp is re-encoded as Go's time.Time encodes it. Values under
// schemas without properties (links, customData) are kept as they are.
// It also applies the checks the SDK's struct tags add to the schema:
// sources must parse as URI references and artifactId fields as package
// URLs, empty or not.
func roundTrip(s *jsonschema.Schema, v any) (any, error) {
	for s.Ref != nil {
		s = s.Ref
	}
	obj, ok := v.(map[string]any)
	if !ok || s.Properties == nil {
		return v, nil
	}
	out := map[string]any{}
	for name, ps := range s.Properties {
		val := field(obj, name)
		switch {
		case val != nil && (val != "" || required(s, name)):
			var err error
			if out[name], err = roundTrip(ps, val); err != nil {
				return nil, err
			}
		case required(s, name) && name == "timestamp":
			out[name] = "0001-01-01T00:00:00Z" // time.Time{}
		case required(s, name):
			out[name] = zero(ps)
		}
		if err := checkTags(name, out); err != nil {
			return nil, err
		}
	}
	if extra, _ := s.AdditionalProperties.(bool); extra || s.AdditionalProperties == nil {
		for k, val := range obj {
			if _, declared := s.Properties[k]; !declared {
				out[k] = val
			}
		}
	}
	return out, nil
}

// checkTags applies what the SDK's Go types add to the schema to property
// name of out. The timestamp (in context only) is a time.Time: it must
// parse as RFC 3339 and is re-encoded as Go encodes it. Every source (the
// context's, the subject's and those of references) must parse as a URI
// reference, and every artifactId as a package URL, even when empty or
// absent: the SDK's validator checks zero values too.
func checkTags(name string, out map[string]any) error {
	str, isString := out[name].(string)
	switch name {
	case "timestamp":
		if !isString {
			return nil // the schema refuses it
		}
		quoted, _ := json.Marshal(str)
		var t time.Time
		if err := t.UnmarshalJSON(quoted); err != nil {
			return err
		}
		b, err := t.MarshalJSON()
		if err != nil {
			return err
		}
		out[name] = strings.Trim(string(b), `"`)
	case "source":
		if _, err := url.Parse(str); err != nil {
			return fmt.Errorf("field %s: not a URI reference: %w", name, err)
		}
	case "artifactId":
		if _, err := packageurl.FromString(str); err != nil {
			return fmt.Errorf("field %s: not a package URL: %w", name, err)
		}
	}
	return nil
}

// field is obj's value for a Go struct field named name: the exact key,
// else a key equal without case.
func field(obj map[string]any, name string) any {
	if v, ok := obj[name]; ok {
		return v
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func required(s *jsonschema.Schema, name string) bool {
	for _, r := range s.Required {
		if r == name {
			return true
		}
	}
	return false
}

// zero is the encoding of a Go zero value for a property of schema s.
func zero(s *jsonschema.Schema) any {
	for s.Ref != nil {
		s = s.Ref
	}
	if s.Types == nil {
		return nil
	}
	types := s.Types.ToStrings()
	switch {
	case len(types) != 1:
		return nil
	case types[0] == "object":
		v, _ := roundTrip(s, map[string]any{})
		return v
	case types[0] == "string":
		return ""
	case types[0] == "boolean":
		return false
	case types[0] == "integer", types[0] == "number":
		return json.Number("0")
	}
	return nil
}
