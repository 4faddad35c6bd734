package privatelink

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// The proxy's client gets through the guard with a token of the local
// chain; anyone else gets Cloud Run's 403.
func TestLink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	labelerURL := "http://" + ln.Addr().String()
	link, err := Start("crossfaas-local", labelerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	srv := &http.Server{Handler: link.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"labels":[]}`)
	}))}
	go srv.Serve(ln)
	defer srv.Close()

	for i := range 3 {
		resp, err := link.ProxyClient().Get(labelerURL + "/?imageUri=gs%3A%2F%2Fb%2Fo.jpg")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d through the proxy's client = %d, want 200 (front: %v)", i, resp.StatusCode, link.Google().Rejections())
		}
	}
	// Every ProxyClient shares the link's token source.
	if n := link.Google().Exchanges(); n != 1 {
		t.Errorf("token exchanges = %d, want 1", n)
	}
	resp, err := http.Get(labelerURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a call without a token = %d, want 403", resp.StatusCode)
	}
	if got, want := link.Caller(), "crossfaas-local-caller@crossfaas-local.iam.gserviceaccount.com"; got != want {
		t.Errorf("Caller() = %q, want %q", got, want)
	}
}
