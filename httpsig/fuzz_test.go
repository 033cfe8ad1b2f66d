package httpsig

import (
	"bytes"
	"testing"
)

// FuzzSignatureBase parses arbitrary Signature-Input and Signature values
// and builds the base of what parses: nothing may panic, and every base
// ends with the "@signature-params" line holding no line break.
func FuzzSignatureBase(f *testing.F) {
	f.Add(rfcInputB26, rfcSignatureB26)
	f.Add(`sig1=("@method" "@target-uri" "x-api-key" "content-digest");created=1;keyid="k";nonce="n";alg="ed25519"`, `sig1=:AAAA:`)
	f.Add(`a=("@query" "@path");created=1, b=()`, `a=:AAAA:, b=:BBBB:`)
	f.Add(`sig1=("x-api-key";sf)`, `sig1=:AA==:`)
	f.Fuzz(func(t *testing.T, input, sig string) {
		sigs, err := parseSignatures([]string{input}, []string{sig})
		if err != nil {
			return
		}
		m := rfcRequest()
		m.Header.Set("X-Api-Key", "gth_x")
		for _, s := range sigs {
			base, err := s.base(&m)
			if err != nil {
				continue
			}
			last := base[bytes.LastIndexByte(base, '\n')+1:]
			if !bytes.HasPrefix(last, []byte(`"@signature-params": (`)) || bytes.ContainsAny(last, "\r\n") {
				t.Fatalf("base ends with %q", last)
			}
			if n := bytes.Count(base, []byte("\n")); n != len(s.components) {
				t.Fatalf("base has %d lines for %d components", n+1, len(s.components))
			}
		}
	})
}
