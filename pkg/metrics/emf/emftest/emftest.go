// Package emftest reads CloudWatch Embedded Metric Format (EMF) log lines
// and checks them against the specification, for tests:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package emftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Doc is one EMF document, read and checked.
type Doc struct {
	Timestamp time.Time
	// Namespace of the (first) metric directive.
	Namespace string
	// DimensionSets of the (first) metric directive.
	DimensionSets [][]string
	// Dimensions maps each dimension key of any set to its value.
	Dimensions map[string]string
	// Metrics maps each metric name to its value and unit.
	Metrics map[string]Metric
	// Members are all members of the root node.
	Members map[string]any
}

// Metric is one metric of a document. A metric whose target is an array of
// numbers has its first value in Value.
type Metric struct {
	Value float64
	Unit  string
}

// Units are the units a MetricDefinition may name (CloudWatch's
// MetricDatum units).
var Units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Limits of the specification and of CloudWatch.
const (
	maxMetrics        = 100  // MetricDefinitions per directive
	maxArrayValues    = 100  // values of an array metric target
	maxDimensions     = 30   // keys per DimensionSet
	maxNameLength     = 255  // namespace, metric name, dimension key
	maxDimensionValue = 1024 // dimension value
	maxDocumentBytes  = 1 << 20
)

// Parse reads one log line as an EMF document and checks it against the
// specification: a JSON object and nothing else; _aws with an integer
// Timestamp in milliseconds and CloudWatchMetrics; in each directive a
// Namespace, DimensionSets whose keys are root members with string values,
// and MetricDefinitions whose names are root members with numeric values,
// with valid units. Members of the specification's objects that it does
// not define, and root members named twice, are errors too.
func Parse(line []byte) (*Doc, error) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > maxDocumentBytes {
		return nil, fmt.Errorf("%d bytes, over the 1 MB of a log event", len(line))
	}
	if err := noDuplicateMembers(line); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		return nil, errors.New("no _aws object")
	}
	if err := onlyMembers(aws, "_aws", "Timestamp", "CloudWatchMetrics"); err != nil {
		return nil, err
	}
	doc := &Doc{Dimensions: map[string]string{}, Metrics: map[string]Metric{}, Members: root}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		return nil, errors.New("_aws.Timestamp is missing or not a number")
	}
	ms, err := ts.Int64()
	if err != nil {
		return nil, fmt.Errorf("_aws.Timestamp %s is not an integer", ts)
	}
	// Seconds instead of milliseconds would fall in 1970.
	if ms < time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() {
		return nil, fmt.Errorf("_aws.Timestamp %d is not in milliseconds since the epoch", ms)
	}
	doc.Timestamp = time.UnixMilli(ms).UTC()
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		return nil, errors.New("_aws.CloudWatchMetrics is missing, empty or not an array")
	}
	for i, d := range directives {
		path := fmt.Sprintf("_aws.CloudWatchMetrics[%d]", i)
		dir, ok := d.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", path)
		}
		if err := onlyMembers(dir, path, "Namespace", "Dimensions", "Metrics"); err != nil {
			return nil, err
		}
		ns, ok := dir["Namespace"].(string)
		if !ok || ns == "" || len(ns) > maxNameLength || strings.HasPrefix(ns, "AWS/") {
			return nil, fmt.Errorf("%s.Namespace %v: want a string of 1 to 255 characters, not in AWS/", path, dir["Namespace"])
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok || len(sets) == 0 {
			return nil, fmt.Errorf("%s.Dimensions is missing, empty or not an array of DimensionSets", path)
		}
		var dimSets [][]string
		for j, s := range sets {
			keys, ok := s.([]any)
			if !ok || len(keys) > maxDimensions {
				return nil, fmt.Errorf("%s.Dimensions[%d]: want an array of at most %d keys", path, j, maxDimensions)
			}
			var set []string
			for _, k := range keys {
				key, ok := k.(string)
				if !ok || key == "" || len(key) > maxNameLength {
					return nil, fmt.Errorf("%s.Dimensions[%d]: key %v is not a string of 1 to 255 characters", path, j, k)
				}
				if slices.Contains(set, key) {
					return nil, fmt.Errorf("%s.Dimensions[%d]: key %q twice", path, j, key)
				}
				v, ok := root[key].(string)
				if !ok {
					return nil, fmt.Errorf("dimension %q: the root has no string member of that name (%v)", key, root[key])
				}
				if err := dimensionValue(v); err != nil {
					return nil, fmt.Errorf("dimension %q: %w", key, err)
				}
				set = append(set, key)
				doc.Dimensions[key] = v
			}
			dimSets = append(dimSets, set)
		}
		defs, ok := dir["Metrics"].([]any)
		if !ok || len(defs) == 0 || len(defs) > maxMetrics {
			return nil, fmt.Errorf("%s.Metrics: want an array of 1 to %d MetricDefinitions", path, maxMetrics)
		}
		for j, m := range defs {
			mpath := fmt.Sprintf("%s.Metrics[%d]", path, j)
			def, ok := m.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s is not an object", mpath)
			}
			if err := onlyMembers(def, mpath, "Name", "Unit", "StorageResolution"); err != nil {
				return nil, err
			}
			name, ok := def["Name"].(string)
			if !ok || name == "" || len(name) > maxNameLength {
				return nil, fmt.Errorf("%s.Name %v is not a string of 1 to 255 characters", mpath, def["Name"])
			}
			unit := "None"
			if u, ok := def["Unit"]; ok {
				if unit, ok = u.(string); !ok || !slices.Contains(Units, unit) {
					return nil, fmt.Errorf("%s.Unit %v is not a CloudWatch unit", mpath, u)
				}
			}
			if r, ok := def["StorageResolution"]; ok && r != json.Number("1") && r != json.Number("60") {
				return nil, fmt.Errorf("%s.StorageResolution %v: want 1 or 60", mpath, r)
			}
			value, err := metricValue(root[name])
			if err != nil {
				return nil, fmt.Errorf("metric %q: %w", name, err)
			}
			if _, dup := doc.Metrics[name]; dup {
				return nil, fmt.Errorf("metric %q defined twice", name)
			}
			doc.Metrics[name] = Metric{Value: value, Unit: unit}
		}
		if i == 0 {
			doc.Namespace, doc.DimensionSets = ns, dimSets
		}
	}
	return doc, nil
}

// Lines reads the EMF documents among the lines of a log: each line that
// has an _aws member. Other lines are skipped; a line that fails Parse is
// an error that quotes it.
func Lines(log string) ([]*Doc, error) {
	var (
		docs []*Doc
		errs []error
	)
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, maxDocumentBytes+1)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		d, err := Parse(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w\n%s", err, line))
			continue
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return docs, errors.Join(errs...)
}

// dimensionValue checks what CloudWatch accepts as a dimension value:
// 1 to 1024 ASCII characters, not all white space, no control characters.
func dimensionValue(v string) error {
	if v == "" || len(v) > maxDimensionValue || strings.TrimSpace(v) == "" {
		return fmt.Errorf("value %q: want 1 to %d characters, not all white space", v, maxDimensionValue)
	}
	for _, c := range []byte(v) {
		if c < 0x20 || c >= 0x7f {
			return fmt.Errorf("value %q: want printable ASCII", v)
		}
	}
	return nil
}

// metricValue reads a metric target: a number or an array of 1 to 100
// numbers.
func metricValue(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Float64()
	case []any:
		if len(x) == 0 || len(x) > maxArrayValues {
			return 0, fmt.Errorf("an array of %d values; want 1 to %d", len(x), maxArrayValues)
		}
		var first float64
		for i, e := range x {
			n, ok := e.(json.Number)
			if !ok {
				return 0, fmt.Errorf("value %d (%v) is not a number", i, e)
			}
			f, err := n.Float64()
			if err != nil {
				return 0, err
			}
			if i == 0 {
				first = f
			}
		}
		return first, nil
	}
	return 0, fmt.Errorf("the root has no numeric member of that name (%v)", v)
}

func onlyMembers(m map[string]any, path string, allowed ...string) error {
	for k := range m {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("%s: member %q is not in the specification", path, k)
		}
	}
	return nil
}

// noDuplicateMembers reports a root member named twice, which
// encoding/json would silently resolve to the last.
func noDuplicateMembers(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not a JSON object: %w", err)
		}
		key, _ := t.(string)
		if seen[key] {
			return fmt.Errorf("root member %q twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("not a JSON object: %w", err)
		}
	}
	return nil
}
