package apiclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// generatedFile is the committed output of oapi-codegen.
const generatedFile = "apiclient.gen.go"

// TestGeneratedCodeIsUpToDate runs doc.go's go:generate command, with the
// output sent to a temporary file, and checks that the result is the
// committed code: a change to openapi.json (or to the config or the tool's
// version) that is not regenerated fails here.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	t.Parallel()
	args := generateCommand(t)
	out := filepath.Join(t.TempDir(), generatedFile)
	redirected := false
	for i := 1; i < len(args); i++ {
		if args[i-1] == "-o" && args[i] == generatedFile {
			args[i], redirected = out, true
		}
	}
	if !redirected {
		t.Fatalf("the go:generate command %q does not write %s with -o", args, generatedFile)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(generatedFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Errorf("%s is not what oapi-codegen generates from openapi.json today (first difference at line %d); run: go generate ./mgmtapi/apiclient",
			generatedFile, firstDifference(got, committed))
	}
}

// generateCommand returns the arguments of the go:generate line of doc.go.
func generateCommand(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for line := range strings.Lines(string(src)) {
		if rest, ok := strings.CutPrefix(line, "//go:generate "); ok {
			found = append(found, rest)
		}
	}
	if len(found) != 1 {
		t.Fatalf("doc.go has %d go:generate lines, want 1", len(found))
	}
	return strings.Fields(found[0])
}

// firstDifference returns the number of the first line at which a and b
// differ.
func firstDifference(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
