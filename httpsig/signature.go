package httpsig

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// maxLabels bounds the signatures of one request that are looked at.
const maxLabels = 8

// maxComponents bounds the components one signature may cover.
const maxComponents = 32

// signature is one parsed member of Signature-Input with its Signature.
type signature struct {
	label      string
	components []string // component names, in order, all without parameters
	// params is the serialization of the Signature-Input member: the
	// value of "@signature-params".
	params  string
	created time.Time
	expires time.Time // zero: none
	nonce   string
	keyID   string
	alg     string
	value   []byte // the signature bytes
}

// parseSignatures parses the Signature-Input and Signature fields (their
// field lines, as received) into the signatures that have both, in the
// order of Signature-Input. A signature that names a parameter or a
// component this package does not support is refused here.
func parseSignatures(inputs, sigs []string) ([]signature, error) {
	in, err := httpsfv.UnmarshalDictionary(inputs)
	if err != nil {
		return nil, &Error{Part: "signature-input", Reason: "not a structured dictionary (RFC 8941): " + err.Error()}
	}
	sv, err := httpsfv.UnmarshalDictionary(sigs)
	if err != nil {
		return nil, &Error{Part: "signature", Reason: "not a structured dictionary (RFC 8941): " + err.Error()}
	}
	var out []signature
	for _, label := range in.Names() {
		if len(out) == maxLabels {
			return nil, &Error{Part: "signature-input", Reason: fmt.Sprintf("more than %d signatures", maxLabels)}
		}
		m, _ := in.Get(label)
		s, err := parseInput(label, m)
		if err != nil {
			return nil, err
		}
		v, ok := sv.Get(label)
		if !ok {
			continue
		}
		item, ok := v.(httpsfv.Item)
		if b, isBytes := item.Value.([]byte); ok && isBytes {
			s.value = b
		} else {
			return nil, &Error{Part: "signature", Reason: fmt.Sprintf("%q is not a byte sequence", label)}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, &Error{Part: "signature", Reason: "no label of Signature-Input has a signature in Signature"}
	}
	return out, nil
}

// parseInput reads one member of Signature-Input (RFC 9421 §4.1).
func parseInput(label string, m httpsfv.Member) (signature, error) {
	s := signature{label: label}
	fail := func(format string, a ...any) (signature, error) {
		return signature{}, &Error{Part: "signature-input", Reason: fmt.Sprintf("%q: ", label) + fmt.Sprintf(format, a...)}
	}
	list, ok := m.(httpsfv.InnerList)
	if !ok {
		return fail("not an inner list of components")
	}
	if len(list.Items) > maxComponents {
		return fail("covers more than %d components", maxComponents)
	}
	seen := make(map[string]bool, len(list.Items))
	for _, item := range list.Items {
		name, ok := item.Value.(string)
		if !ok {
			return fail("a component is not a string")
		}
		if len(item.Params.Names()) > 0 {
			return fail("component %q has parameters; none are supported", name)
		}
		if !validComponent(name) {
			return fail("component %q is not supported", name)
		}
		if seen[name] {
			return fail("component %q is listed twice", name)
		}
		seen[name] = true
		s.components = append(s.components, name)
	}
	for _, p := range list.Params.Names() {
		v, _ := list.Params.Get(p)
		switch p {
		case "created", "expires":
			n, ok := v.(int64)
			if !ok {
				return fail("%s is not an integer", p)
			}
			t := time.Unix(n, 0)
			if p == "created" {
				s.created = t
			} else {
				s.expires = t
			}
		case "nonce", "keyid", "alg", "tag":
			str, ok := v.(string)
			if !ok {
				return fail("%s is not a string", p)
			}
			switch p {
			case "nonce":
				s.nonce = str
			case "keyid":
				s.keyID = str
			case "alg":
				s.alg = str
			}
		}
	}
	params, err := httpsfv.Marshal(list)
	if err != nil {
		return fail("cannot be serialized: %v", err)
	}
	s.params = params
	return s, nil
}

// derived lists the derived components (RFC 9421 §2.2) this package
// builds.
var derived = map[string]bool{
	"@method": true, "@target-uri": true, "@authority": true, "@scheme": true,
	"@request-target": true, "@path": true, "@query": true,
}

// validComponent reports whether name is a supported derived component
// or a lower-case field name.
func validComponent(name string) bool {
	if strings.HasPrefix(name, "@") {
		return derived[name]
	}
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		// tchar (RFC 9110 §5.6.2) without upper case letters.
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// base builds the signature base of s over m (RFC 9421 §2.5): one line
// per covered component, "@signature-params" last, no final newline.
func (s *signature) base(m *Message) ([]byte, error) {
	var b strings.Builder
	for _, name := range s.components {
		value, err := componentValue(m, name)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"`)
		b.WriteString(name) // a validComponent needs no escaping
		b.WriteString(`": `)
		b.WriteString(value)
		b.WriteString("\n")
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(s.params)
	return []byte(b.String()), nil
}

// componentValue returns the value of one covered component of m.
func componentValue(m *Message, name string) (string, error) {
	switch name {
	case "@method":
		return m.Method, nil
	case "@target-uri":
		return m.targetURI(), nil
	case "@authority":
		return m.authority(), nil
	case "@scheme":
		return strings.ToLower(m.Scheme), nil
	case "@request-target":
		return m.RequestURI, nil
	case "@path":
		path, _, _ := m.pathAndQuery()
		return path, nil
	case "@query":
		_, query, _ := m.pathAndQuery()
		return "?" + query, nil
	}
	// A field (RFC 9421 §2.1): its lines, trimmed, joined by ", ".
	lines := m.Header.Values(name)
	if len(lines) == 0 {
		return "", &Error{Part: "covered components", Reason: fmt.Sprintf("%q is covered but the request has no such header", name)}
	}
	trimmed := make([]string, len(lines)) // lines belongs to the header
	for i, l := range lines {
		trimmed[i] = strings.Trim(l, " \t")
		if strings.ContainsAny(trimmed[i], "\r\n") {
			return "", &Error{Part: "covered components", Reason: fmt.Sprintf("header %q holds a line break", name)}
		}
	}
	return strings.Join(trimmed, ", "), nil
}

// verifyBytes checks sig over base with pub, by the algorithm of pub
// (RFC 9421 §3.3.4 and §3.3.6).
func verifyBytes(pub any, base, sig []byte) bool {
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, base, sig)
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256(base)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, sum[:], r, s)
	}
	return false
}
