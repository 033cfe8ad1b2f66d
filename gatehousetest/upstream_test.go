package gatehousetest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"gatehouse/gatehousetest"
)

func TestUpstream(t *testing.T) {
	t.Parallel()
	up := gatehousetest.NewUpstream(t, nil)
	req, _ := http.NewRequest("POST", up.URL+"/v2/assets/%2F?x=1", strings.NewReader("hello"))
	req.Host = "gw.example"
	req.Header.Set("X-Request-Id", "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]string
	json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if answer["method"] != "POST" || answer["uri"] != "/v2/assets/%2F?x=1" {
		t.Errorf("answer = %v, want the method and the URI as sent", answer)
	}
	got := up.Take()
	if len(got) != 1 {
		t.Fatalf("Take() = %d requests, want 1", len(got))
	}
	if r := got[0]; r.Method != "POST" || r.RequestURI != "/v2/assets/%2F?x=1" || r.Host != "gw.example" || r.Header.Get("X-Request-Id") != "abc" || r.Body != "hello" {
		t.Errorf("Take() = %+v, want the request as sent", r)
	}
	if got := up.Take(); len(got) != 0 {
		t.Errorf("second Take() = %v, want nothing", got)
	}
}

func TestUpstreamHandler(t *testing.T) {
	t.Parallel()
	up := gatehousetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(append([]byte("got "), b...))
	})
	resp, err := http.Post(up.URL+"/x", "text/plain", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "got abc" {
		t.Errorf("answer = %q, want the handler's", b)
	}
	if got := up.Requests(); len(got) != 1 || got[0].RequestURI != "/x" || got[0].Body != "abc" {
		t.Errorf("Requests() = %+v, want the one request with the body the handler read", got)
	}
}
