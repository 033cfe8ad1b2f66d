package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit, when set at link time, replace what the build
// information says:
//
//	go build -ldflags "-X main.version=v1.4.0 -X main.commit=1234abc" ./cmd/gatehouse
var version, commit string

// buildVersion is what `gatehouse version` prints.
type buildVersion struct {
	// Version is the main module's version: a tag such as v1.4.0, a
	// pseudo-version (v0.0.0-20261203101500-1234abcdef12, with +dirty for
	// uncommitted changes) when built with `go build` in a git checkout,
	// or "(devel)".
	Version string
	// Commit is the git revision built, or "" when unknown.
	Commit string
	// Modified reports uncommitted changes in the checkout built.
	Modified bool
}

// readBuildVersion returns the version of this binary: the -ldflags
// values, else what Go stamped into it (the main module's version and the
// vcs.revision and vcs.modified settings).
func readBuildVersion() buildVersion {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(info, version, commit)
}

// versionFrom reads a version from build information (nil: none),
// overridden by the non-empty ones of ldVersion and ldCommit.
func versionFrom(info *debug.BuildInfo, ldVersion, ldCommit string) buildVersion {
	v := buildVersion{Version: "(devel)"}
	if info != nil {
		if info.Main.Version != "" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		v.Version = ldVersion
	}
	if ldCommit != "" {
		v.Commit, v.Modified = ldCommit, false
	}
	return v
}

// String gives "v1.4.0 (commit 1234abcdef12, modified)", the commit cut to
// 12 characters as in Go's pseudo-versions.
func (v buildVersion) String() string {
	if v.Commit == "" {
		return v.Version
	}
	c := v.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if v.Modified {
		return fmt.Sprintf("%s (commit %s, modified)", v.Version, c)
	}
	return fmt.Sprintf("%s (commit %s)", v.Version, c)
}

func (a *app) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Long: `Print the version of this binary and the git commit it was built from, with
"modified" when the checkout had uncommitted changes. "gatehouse --version"
prints the same.`,
		Example: `  gatehouse version`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(a.stdout, "%s %s\n", c.Root().Name(), readBuildVersion())
			return err
		},
	}
}
