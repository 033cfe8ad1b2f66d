package proxy_test

import (
	"net/http"
	"testing"

	"gatehouse/proxy"
)

func TestCheckPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target string
		want   bool
	}{
		{"/api/v2/assets", true},
		{"/api/v2/assets/", true},
		{"/api/v2/assets/158?x=../../y", true},
		{"/api/v2/assets/a.b/c..d/...", true},
		{"/api/v2/assets/caf%C3%A9", true},
		{"/api/v2/assets/%41", true},
		{"/", true},
		{"http://h/api/v2/assets", true},
		{"/api/v2/assets/..", false},
		{"/api/v2/assets/.", false},
		{"/api/v2/assets/../x", false},
		{"/api/v2/assets/%2e%2e/x", false},
		{"/api/v2/assets/%2E./x", false},
		{"/api/v2/assets/%2e", false},
		{"//api/v2/assets", false},
		{"/api//v2", false},
		{"/api/v2/assets%2fx", false},
		{"/api/v2/assets%5Cx", false},
		{"/api/v2/assets\\x", false},
		{"/api/v2/assets;x=1", false},
		{"/api/v2/assets%00", false},
		{"/api/v2/assets%0a", false},
		{"/api/v2/assets%25", false},
		{"/api/v2/assets%2", false},
		{"/api/v2/assets#frag", false},
		{"*", false},
		{"api/v2/assets", false},
		{"http://h", false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			r := &http.Request{RequestURI: tt.target}
			if got := proxy.CheckPath(r); got != tt.want {
				t.Errorf("CheckPath(%q) = %v, want %v", tt.target, got, tt.want)
			}
		})
	}
}
