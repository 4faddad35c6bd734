package dev

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/labeler"
)

// TestDetect calls GET /detect on the gateway: the proxy forwards to the
// labeler at the URL dev wired into its configuration, and the labeler
// labels the image with the offline engine.
func TestDetect(t *testing.T) {
	sys := start(t, nil)
	p := loadPhotos(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/face.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(p.person)
		case "/notes.txt":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "not an image")
		default:
			http.NotFound(w, r)
		}
	}))
	defer images.Close()

	tests := []struct {
		name        string
		query       string
		wantStatus  int
		wantLabel   string // a label the answer must have
		wantDefault bool
		wantError   string
	}{
		{"a face", "imageUri=" + url.QueryEscape(images.URL+"/face.jpg"), 200, "offline:faces:1", false, ""},
		{"default image", "", 200, "offline:format:png", true, ""},
		{"not an image", "imageUri=" + url.QueryEscape(images.URL+"/notes.txt"), 422, "", false, "image"},
		{"missing image", "imageUri=" + url.QueryEscape(images.URL+"/nope.jpg"), 422, "", false, "404"},
		{"bad scheme", "imageUri=" + url.QueryEscape("ftp://example.com/a.jpg"), 400, "", false, "scheme"},
		{"gs offline", "imageUri=" + url.QueryEscape("gs://bucket/a.jpg"), 422, "", false, "crossfaas dev --cloud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := sys.GatewayURL + "/detect"
			if tt.query != "" {
				u += "?" + tt.query
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s = %d %s, want %d", u, resp.StatusCode, body, tt.wantStatus)
			}
			if resp.Header.Get("Apigw-Requestid") == "" {
				t.Errorf("GET %s has no apigw-requestid header: not through the gateway?", u)
			}
			if tt.wantError != "" {
				var e labeler.ErrorResponse
				if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tt.wantError) {
					t.Errorf("GET %s error = %s, want it to mention %q", u, body, tt.wantError)
				}
				return
			}
			var got labeler.Response
			if err := json.Unmarshal(body, &got); err != nil || got.Annotation == nil {
				t.Fatalf("GET %s = %s, not a labeler response (%v)", u, body, err)
			}
			if got.Engine != labeler.EngineOffline || got.DefaultImage != tt.wantDefault {
				t.Errorf("GET %s engine, defaultImage = %q, %v, want offline, %v", u, got.Engine, got.DefaultImage, tt.wantDefault)
			}
			var labels []string
			for _, l := range got.Labels {
				labels = append(labels, l.Description)
			}
			if !strings.Contains(strings.Join(labels, " "), tt.wantLabel) {
				t.Errorf("GET %s labels = %v, want %q", u, labels, tt.wantLabel)
			}
		})
	}

	// The labeler is served on its own, as the Cloud Function is, and,
	// private by default, answers a caller with the proxy's identity only.
	direct := sys.LabelerURL + "/?imageUri=" + url.QueryEscape(images.URL+"/face.jpg")
	resp, err := http.Get(direct)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET labeler directly without a token = %d, want 403", resp.StatusCode)
	}
	req := mustRequest(t, direct)
	authorize(t, sys, req)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET labeler directly with an ID token of the caller = %d, want 200", resp.StatusCode)
	}
}

// TestLabelerEgress: the offline labeler never fetches from unspecified,
// link-local or metadata addresses, and from no loopback or private one
// once dev listens beyond loopback; the address is checked after name
// resolution and for every redirect, and a refusal is a 422 that says so.
// (Only addresses of this machine are tried: the metadata address itself
// is covered by package egress's tests, which make no connection.)
func TestLabelerEgress(t *testing.T) {
	images := httptest.NewServer(http.HandlerFunc(serveSample))
	defer images.Close()
	port := images.URL[strings.LastIndex(images.URL, ":")+1:]
	redirect := httptest.NewServer(http.RedirectHandler("http://0.0.0.0:"+port+"/a.png", http.StatusFound))
	defer redirect.Close()

	tests := []struct {
		name       string
		host       string // dev's --host
		imageURI   string // "" for the default image
		wantStatus int
		wantError  string
	}{
		{"loopback image, dev on loopback", "127.0.0.1", images.URL + "/a.png", 200, ""},
		{"unspecified address", "127.0.0.1", "http://0.0.0.0:" + port + "/a.png", 422, "refused to fetch it: refused to connect to 0.0.0.0: it is an unspecified address"},
		{"link-local address", "127.0.0.1", "http://[fe80::1%25lo]:" + port + "/a.png", 422, "refused to fetch it: refused to connect to fe80::1"},
		{"redirect to a refused address", "127.0.0.1", redirect.URL + "/x", 422, "refused to fetch it: refused to connect to 0.0.0.0"},
		{"loopback image, dev beyond loopback", "0.0.0.0", images.URL + "/a.png", 422, "refused to fetch it: refused to connect to 127.0.0.1: it is a loopback address"},
		{"a name resolving to loopback, dev beyond loopback", "0.0.0.0", "http://localhost:" + port + "/a.png", 422, "refused to fetch it: refused to connect to"},
		{"default image, dev beyond loopback", "0.0.0.0", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A public labeler, to call it directly too; through the
			// gateway, the proxy reaches it over the private link.
			sys := start(t, func(o *Options) { o.Host, o.LabelerAccess = tt.host, LabelerPublic })
			for _, base := range []string{sys.LabelerURL + "/", sys.GatewayURL + "/detect"} {
				u := base
				if tt.imageURI != "" {
					u += "?imageUri=" + url.QueryEscape(tt.imageURI)
				}
				resp, err := http.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantError) {
					t.Errorf("GET %s = %d %s, want %d and %q", u, resp.StatusCode, body, tt.wantStatus, tt.wantError)
				}
			}
		})
	}
}
