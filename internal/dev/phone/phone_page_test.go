package phone

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postForm posts the page's send form.
func postForm(t *testing.T, base, body string, file []byte, fileType string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("body", body)
	if file != nil {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="media"; filename="photo"`}
		h["Content-Type"] = []string{fileType}
		w, _ := mw.CreatePart(h)
		w.Write(file)
	}
	mw.Close()
	resp, err := http.Post(base+"/api/messages", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestPageAPI(t *testing.T) {
	wh := &webhook{t: t, answer: "<Response><Message>ok</Message></Response>"}
	_, srv := newSimulator(t, wh)

	tests := []struct {
		name       string
		body       string
		file       []byte
		fileType   string
		wantStatus int
		wantType   string
	}{
		{"text", "help", nil, "", 200, ""},
		{"photo with its type", "face match demo", []byte("\xff\xd8\xff\xe0 jpeg"), "image/jpeg", 200, "image/jpeg"},
		{"sniffed type", "face match demo", []byte("\x89PNG\r\n\x1a\n png"), "application/octet-stream", 200, "image/png"},
		{"text file", "face match demo", []byte("not an image"), "text/plain", 200, "text/plain"},
		{"nothing", "  ", nil, "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := postForm(t, srv.URL, tt.body, tt.file, tt.fileType)
			if status != tt.wantStatus {
				t.Fatalf("POST /api/messages = %d %v, want %d", status, out, tt.wantStatus)
			}
			if status != 200 {
				return
			}
			if out["ack"] != "ok" {
				t.Errorf("ack = %v, want ok", out["ack"])
			}
			if got := wh.params.Get("MediaContentType0"); got != tt.wantType {
				t.Errorf("MediaContentType0 = %q, want %q", got, tt.wantType)
			}
		})
	}

	for _, path := range []string{"/", "/app.js", "/style.css", "/api/info", "/api/thread", "/_dev/dlq"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestSendRefusesOtherOrigins: another web page open in the developer's
// browser cannot text the bot through the simulator.
func TestSendRefusesOtherOrigins(t *testing.T) {
	wh := &webhook{t: t, answer: "<Response/>"}
	sim, srv := newSimulator(t, wh)
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"the simulator's page", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": srv.URL}, http.StatusOK},
		{"not a browser", nil, http.StatusOK},
		{"another site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"another origin, older browser", map[string]string{"Origin": "http://evil.example:8788"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(sim.Thread(0))
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("body", "face addcol x")
			mw.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/api/messages", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("POST /api/messages from %s = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
			if sent := len(sim.Thread(0)) > before; sent != (tt.want == http.StatusOK) {
				t.Errorf("POST /api/messages from %s: message sent = %v, want %v", tt.name, sent, tt.want == http.StatusOK)
			}
		})
	}
}

func TestEventsStream(t *testing.T) {
	sim, srv := newSimulator(t, &webhook{t: t, answer: "<Response/>"})
	if _, err := sim.Send(context.Background(), DefaultTwilioNumber, DefaultUserNumber, "first"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	var bodies []string
	go func() {
		time.Sleep(50 * time.Millisecond)
		sim.Send(context.Background(), DefaultTwilioNumber, DefaultUserNumber, "second")
	}()
	for len(bodies) < 2 && lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			var e Entry
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, e.Body)
		}
	}
	if strings.Join(bodies, ",") != "first,second" {
		t.Errorf("streamed bodies = %v, want first,second", bodies)
	}
	// Close ends the stream, so servers can shut down.
	sim.Close()
	for lines.Scan() {
	}
	if ctx.Err() != nil {
		t.Errorf("the stream outlived Close")
	}
}
