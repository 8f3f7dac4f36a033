package api

import (
	"fmt"
	"strings"
)

// FieldError is one problem with a config object, located precisely enough
// to fix it without guessing: file, document, object and field. Its message
// may quote spec values but never Secret data, so it is safe to print.
type FieldError struct {
	// File is the file the object was read from; "" for objects that did
	// not come from a file (a store), and then Index is not shown either.
	File string
	// Index is the zero-based document index in File, or -1 when the
	// problem is with the file as a whole (unreadable, not YAML).
	Index int
	// Ref is Kind/namespace/name, or "" when the document has no usable kind.
	Ref string
	// Field is the path of the offending field, as in
	// spec.eventSources[0].name or metadata.labels[app]; "" for the object.
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
		if e.Index >= 0 {
			fmt.Fprintf(&b, "document %d: ", e.Index)
		}
	}
	if e.Ref != "" {
		b.WriteString(e.Ref)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is the error LoadPaths and Decode return: every problem found,
// not just the first, so one run of `herald validate` shows them all.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// objectRef is Ref with a placeholder for a missing name, so that messages
// about nameless objects still read as Kind/namespace/(unnamed).
func objectRef(kind string, m ObjectMeta) string {
	if m.Name == "" {
		m.Name = "(unnamed)"
	}
	return Ref(kind, m)
}
