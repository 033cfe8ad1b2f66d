package password_test

import (
	"strings"
	"testing"

	"gatehouse/password"
)

func TestHashCheck(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("Hash = %q, want an argon2id PHC string", h)
	}
	if !password.Check(h, "correct horse battery staple") {
		t.Error("Check(right password) = false")
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple"} {
		if password.Check(h, wrong) {
			t.Errorf("Check(%q) = true, want false", wrong)
		}
	}
	h2, _ := password.Hash("correct horse battery staple")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "$argon2id$", "$2a$10$abc", strings.Replace(h, "m=65536", "m=99999999", 1)} {
		if password.Check(bad, "x") {
			t.Errorf("Check(%q) = true, want false", bad)
		}
	}
	if password.CheckMissing("x") {
		t.Error("CheckMissing = true")
	}
	if _, err := password.Hash(strings.Repeat("x", 1025)); err == nil {
		t.Error("Hash(1025 bytes) = nil error, want ErrTooLong")
	}
}
