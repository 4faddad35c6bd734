package phone

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

// The page's API: what the simulator's page (web/app.js) calls.

func (s *Simulator) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"userNumber":   s.cfg.UserNumber,
		"twilioNumber": s.cfg.TwilioNumber,
		"webhookUrl":   s.cfg.WebhookURL,
		"accountSid":   s.cfg.AccountSID,
		"authToken":    s.cfg.AuthToken,
		"mode":         s.cfg.Mode,
		"maxUpload":    s.cfg.MaxUpload,
	})
}

// handleSend is the page's "send" button: a multipart form with "body" and
// an optional "media" file.
func (s *Simulator) handleSend(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the photo is larger than the simulator's %d MiB limit", s.cfg.MaxUpload>>20))
			return
		}
		writeError(w, http.StatusBadRequest, "send a multipart form with a body field and an optional media file: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	body := r.FormValue("body")
	var photo *Photo
	if file, header, err := r.FormFile("media"); err == nil {
		defer file.Close()
		data, err := io.ReadAll(file)
		if err != nil {
			writeError(w, http.StatusBadRequest, "reading the photo: "+err.Error())
			return
		}
		if len(data) > 0 {
			photo = &Photo{ContentType: header.Header.Get("Content-Type"), Data: data}
		}
	} else if !errors.Is(err, http.ErrMissingFile) {
		writeError(w, http.StatusBadRequest, "reading the photo: "+err.Error())
		return
	}
	if strings.TrimSpace(body) == "" && photo == nil {
		writeError(w, http.StatusBadRequest, "type a message or attach a photo")
		return
	}
	res, err := s.SendMessage(r.Context(), body, photo)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Simulator) handleThread(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	writeJSON(w, http.StatusOK, s.Thread(after))
}

// handleClear is the page's "clear" button.
func (s *Simulator) handleClear(w http.ResponseWriter, r *http.Request) {
	s.Clear()
	w.WriteHeader(http.StatusNoContent)
}

// handleEvents streams the thread as server-sent events, resuming after
// Last-Event-ID: one "entry" event per entry, and a "clear" event when the
// thread was cleared since what the page shows.
func (s *Simulator) handleEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	after, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	if q := r.URL.Query().Get("after"); q != "" {
		after, _ = strconv.Atoi(q)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	flusher.Flush()

	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	shown := 0 // the last clear the page was told about
	for {
		changed := s.Changed()
		if cleared := s.cleared(); cleared > shown && cleared >= after {
			// What the page shows, up to after, is gone.
			fmt.Fprintf(w, "id: %d\nevent: clear\ndata: {}\n\n", cleared)
			shown, after = cleared, cleared
		}
		for _, e := range s.Thread(after) {
			data, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\nevent: entry\ndata: %s\n\n", e.Seq, data)
			after = e.Seq
		}
		flusher.Flush()
		select {
		case <-changed:
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

func (s *Simulator) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	var letters any = []any{}
	if s.cfg.DeadLetters != nil {
		letters = s.cfg.DeadLetters()
	}
	writeJSON(w, http.StatusOK, letters)
}

// handlePreview serves a sent photo to the page, if it is an image the
// browser can show safely.
func (s *Simulator) handlePreview(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m, ok := s.media[r.PathValue("media")]
	s.mu.Unlock()
	if !ok || !strings.HasPrefix(m.contentType, "image/") || m.contentType == "image/svg+xml" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(m.data)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

// ValidAccountSID reports whether sid looks like a Twilio account SID: AC
// and 32 lower-case hex digits.
func ValidAccountSID(sid string) bool { return accountSIDPattern.MatchString(sid) }

// NewAccountSID returns a random account SID for a local account.
func NewAccountSID() string { return smswebhook.NewSid("AC") }

// NewAuthToken returns a random 32-hex-digit auth token.
func NewAuthToken() string { return smswebhook.NewSid("")[:32] }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
