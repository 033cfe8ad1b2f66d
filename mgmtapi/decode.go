package mgmtapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gatehouse"
)

// maxDepth is the deepest nesting of objects and arrays a request body may
// have.
const maxDepth = 32

// decodeBody reads the JSON object of a request into dst, refusing what
// encoding/json would accept silently (see checkJSON) and what the
// contract refuses: another content type (415), a body over the limit
// (413), unknown or duplicate members, trailing data and wrong types
// (400). It returns the names of the top-level members present, so that
// callers can tell an absent member from a null one.
//
// When optional is true an empty body is accepted and leaves dst alone;
// a body that is not empty must still be a valid JSON object.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool) (present map[string]bool, err error) {
	if !optional {
		if err := checkContentType(r); err != nil {
			return nil, err
		}
	}
	limit := h.maxBody()
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	// A client that stops sending its body must not hold the connection.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(h.bodyTimeout()))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err == nil {
		rc.SetReadDeadline(time.Time{})
	} else {
		// Keep the passed deadline, so that the server does not wait for
		// the rest of the body either, and drop the connection.
		w.Header().Set("Connection", "close")
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(limit)
	} else if err != nil {
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return map[string]bool{}, nil
		}
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body must be a JSON object.")
	}
	if optional {
		if err := checkContentType(r); err != nil {
			return nil, err
		}
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bad bytes with U+FFFD silently.
		return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body is not valid UTF-8.")
	}
	present, err = checkJSON(body, fieldNames(reflect.TypeOf(dst)))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, decodeError(err)
	}
	return present, nil
}

func tooLarge(limit int64) error {
	return gatehouse.Errorf(gatehouse.ETooLarge, "The request body is larger than %d bytes.", limit)
}

// checkContentType accepts application/json, with no charset or UTF-8.
func checkContentType(r *http.Request) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return gatehouse.Errorf(gatehouse.EUnsupportedMedia, "The request body must be sent as Content-Type: application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return gatehouse.Errorf(gatehouse.EUnsupportedMedia, "The request body must be UTF-8.")
	}
	return nil
}

// checkJSON walks the tokens of body and checks that it is one JSON object
// and nothing after it, nested at most maxDepth deep, whose member names
// are all in names (exactly: encoding/json would also take "NAME" for
// "name") and appear at most once in each object (encoding/json would keep
// the last silently). It returns the names of the top-level members.
func checkJSON(body []byte, names map[string]bool) (map[string]bool, error) {
	type frame struct {
		object  bool
		wantKey bool            // in an object, the next token is a name or '}'
		seen    map[string]bool // folded names seen in this object
		names   map[string]bool // names as sent, for the top level
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	var top map[string]bool
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		if len(stack) == 0 {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body must be a JSON object.")
			}
		}
		f := (*frame)(nil)
		if len(stack) > 0 {
			f = stack[len(stack)-1]
		}
		if f != nil && f.object && f.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
			} else {
				name := tok.(string) // the decoder allows only names here
				if names != nil && !names[name] {
					return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "Unknown field %q.", truncate(name))
				}
				folded := foldName(name)
				if f.seen[folded] {
					return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "Field %q appears more than once.", truncate(name))
				}
				f.seen[folded] = true
				if f.names != nil {
					f.names[name] = true
				}
				f.wantKey = false
				continue
			}
		} else if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) >= maxDepth {
					return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body is nested more than %d levels deep.", maxDepth)
				}
				nf := &frame{object: d == '{', wantKey: true, seen: map[string]bool{}}
				if len(stack) == 0 {
					top = map[string]bool{}
					nf.names = top
				}
				stack = append(stack, nf)
				continue
			case ']':
				stack = stack[:len(stack)-1]
			}
		}
		// A value ended: its object now waits for the next name.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
		if len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				return nil, gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body holds data after its JSON object.")
			}
			return top, nil
		}
	}
}

// syntaxError turns a tokenizer error into a 400.
func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body is not valid JSON (at byte %d).", se.Offset)
	}
	return gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body is not valid JSON: it ends too early.")
}

// decodeError turns an encoding/json error into a 400 that names the field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body must be a JSON object.")
		}
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "Field %q must be %s, not %s.", field, kindName(te.Type), article(te.Value))
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return gatehouse.Errorf(gatehouse.EInvalidRequest, "Unknown field %s.", truncate(msg))
	}
	return gatehouse.Errorf(gatehouse.EInvalidRequest, "The request body does not match the expected object.")
}

// kindName names the JSON type that a Go type takes.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another type"
}

// article prefixes a JSON type name as encoding/json reports it.
func article(v string) string {
	switch {
	case v == "":
		return "this"
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "array" || v == "object":
		return "an " + v
	}
	return "a " + v
}

// fieldNames returns the JSON member names of a struct type and of the
// structs inside it (through pointers, slices and nested structs).
func fieldNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || depth > maxDepth {
			return
		}
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			names[name] = true
			walk(sf.Type, depth+1)
		}
	}
	walk(t, 0)
	return names
}

// foldName folds a member name the way encoding/json matches names to
// fields, so that "name" and "Name" count as the same member.
func foldName(s string) string {
	return strings.Map(func(r rune) rune { return unicode.ToUpper(unicode.ToLower(r)) }, s)
}

// truncate shortens a client's string for an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%.64s…", s)
}
