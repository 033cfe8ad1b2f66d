package server_test

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"gatehouse/gatehousetest"
	"gatehouse/gatehousetest/gatewaytest"
	"gatehouse/server"
)

// TestBuildInfo: /metrics says what runs in gatehouse_build_info.
func TestBuildInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, commit, want string }{
		{"v1.4.0", "1234abcd", `gatehouse_build_info{commit="1234abcd",goversion="` + runtime.Version() + `",version="v1.4.0"} 1`},
		{"", "", `gatehouse_build_info{commit="unknown",goversion="` + runtime.Version() + `",version="unknown"} 1`},
	} {
		cfg := gatewaytest.Config(t, gatehousetest.NewUpstream(t, nil).URL, nil)
		s, err := server.Open(context.Background(), cfg, server.Options{Version: tc.version, Commit: tc.commit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		w := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("version %q: /metrics = %d without %s", tc.version, w.Code, tc.want)
		}
	}
}
