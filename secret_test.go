package gatehouse_test

import (
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"gatehouse"
)

func TestNewSecretShape(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		k := gatehouse.NewSecret()
		s := k.Reveal()
		if len(s) != gatehouse.KeyLen || !strings.HasPrefix(s, "gth_") {
			t.Fatalf("NewSecret() = %q: want %d characters starting gth_", s, gatehouse.KeyLen)
		}
		if !gatehouse.WellFormed(s) {
			t.Fatalf("WellFormed(%q) = false, want true", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestWellFormedRefusesDamage(t *testing.T) {
	t.Parallel()
	s := gatehouse.NewSecret().Reveal()
	flip := func(i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct{ name, key string }{
		{"empty", ""},
		{"truncated", s[:len(s)-1]},
		{"extended", s + "a"},
		{"typo in body", flip(10)},
		{"typo in checksum", flip(len(s) - 1)},
		{"wrong prefix", "gtx_" + s[4:]},
		{"non-base62", s[:10] + "-" + s[11:]},
		{"non-ascii", s[:10] + "é" + s[12:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if gatehouse.WellFormed(tt.key) {
				t.Errorf("WellFormed(%q) = true, want false", tt.key)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	k := gatehouse.NewSecret()
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(out, k.Reveal()[4:20]) {
			t.Errorf("formatting a Secret printed the key: %q", out)
		}
	}
	if got, want := k.Hint(), "gth_…"+k.Reveal()[gatehouse.KeyLen-4:]; got != want {
		t.Errorf("Hint() = %q, want %q", got, want)
	}
}

func TestSealerRoundTrip(t *testing.T) {
	t.Parallel()
	mk := make([]byte, gatehouse.MasterKeyLen)
	s, err := gatehouse.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	k := gatehouse.NewSecret()
	sealed := s.Seal("key_1", k)
	if strings.Contains(string(sealed), k.Reveal()) {
		t.Fatal("sealed key holds the plain key")
	}
	got, err := s.Open("key_1", sealed)
	if err != nil || got.Reveal() != k.Reveal() {
		t.Fatalf("Open = %v, %v; want the sealed key", got, err)
	}
	if _, err := s.Open("key_2", sealed); err == nil {
		t.Error("Open with another key ID succeeded, want ErrUnseal")
	}
	other, _ := gatehouse.NewSealer(append(make([]byte, gatehouse.MasterKeyLen-1), 1))
	if _, err := other.Open("key_1", sealed); err == nil {
		t.Error("Open with another master key succeeded, want ErrUnseal")
	}
}

func BenchmarkWellFormed(b *testing.B) {
	s := gatehouse.NewSecret().Reveal()
	b.ReportAllocs()
	for b.Loop() {
		gatehouse.WellFormed(s)
	}
}

func BenchmarkDigestOf(b *testing.B) {
	s := gatehouse.NewSecret().Reveal()
	b.ReportAllocs()
	for b.Loop() {
		gatehouse.DigestOf(s)
	}
}

func TestChecksumIsCRC32(t *testing.T) {
	t.Parallel()
	// A key made by hand from the documented format must be accepted, so
	// that the format is what the README says and not an accident of code.
	body := "gth_" + strings.Repeat("A", 32)
	sum := crc32.ChecksumIEEE([]byte(body))
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var c [6]byte
	for i := 5; i >= 0; i-- {
		c[i] = digits[sum%62]
		sum /= 62
	}
	if key := body + string(c[:]); !gatehouse.WellFormed(key) {
		t.Errorf("WellFormed(%q) = false, want true", key)
	}
}

func TestFindKeyShape(t *testing.T) {
	t.Parallel()
	key := gatehouse.NewSecret().Reveal()
	tests := []struct {
		s          string
		start, end int
	}{
		{"", -1, -1},
		{"/api/v2/assets/158", -1, -1},
		{"gth_", -1, -1},
		{"gth_abc", -1, -1},
		{"gth_abc-", -1, -1},
		{"gth_abcd", 0, 8},
		{"x/gth_abcd/y", 2, 10},
		{"GTH_abcd", 0, 8},
		{"gTh_abcd", 0, 8},
		{"length_desc", 3, 11},
		{key, 0, len(key)},
		{"id:" + key + ".1", 3, 3 + len(key)},
		// A shape that begins in the last characters of another is taken in.
		{"gth_ab" + key, 0, 6 + len(key)},
		{"gth_abcd" + "gth_" + "efgh" + "gth_ijkl", 0, 24},
		{"gth_gth_abcd", 4, 12},
		{"gth_abcdgth_ab", 0, 11},
	}
	for _, tt := range tests {
		if start, end := gatehouse.FindKeyShape(tt.s); start != tt.start || end != tt.end {
			t.Errorf("FindKeyShape(%q) = %d, %d; want %d, %d", tt.s, start, end, tt.start, tt.end)
		}
		if start, end := gatehouse.FindKeyShape([]byte(tt.s)); start != tt.start || end != tt.end {
			t.Errorf("FindKeyShape([]byte(%q)) = %d, %d; want %d, %d", tt.s, start, end, tt.start, tt.end)
		}
	}
}
