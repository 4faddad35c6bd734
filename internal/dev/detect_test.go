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
