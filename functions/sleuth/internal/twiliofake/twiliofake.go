// Package twiliofake is a wire-level fake of the parts of Twilio's REST API
// the sleuth Lambdas use, for the real twilio-go client and media fetcher
// in tests: the Messages resource (POST creates, GET lists, filtered by To
// and From, newest first, paged by PageSize and next_page_uri, as Twilio
// does) and MMS media files, all behind the account's basic auth.
package twiliofake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// API is the fake. Its methods are safe for concurrent use.
type API struct {
	// URL is the base URL to give clients (SLEUTH_TWILIO_API_URL).
	URL string

	sid, token string
	now        func() time.Time

	mu            sync.Mutex
	media         map[string]Media // by media SID
	messages      []Message
	fail          []int // statuses to answer message creation with, in order
	trial         bool  // bodies get the trial account's prefix
	mediaRequests int
}

// Media is a media file.
type Media struct {
	ContentType string
	Body        []byte
	// Status, when not zero, is answered instead of the file (e.g. 503).
	Status int
}

// Message is a message created through the API; Body as Twilio stores
// it (smart encoded when asked, with the trial prefix on a trial account).
type Message struct {
	SID, From, To, Body string
	Created             time.Time
}

// New starts a fake for the account sid, token on a loopback server
// closed when the test ends. now dates the messages (nil: time.Now).
func New(t testing.TB, sid, token string, now func() time.Time) *API {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	api := &API{sid: sid, token: token, now: now, media: map[string]Media{}}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	api.URL = srv.URL
	return api
}

// SetTrial makes the fake a trial account's: Twilio puts "Sent from your
// Twilio trial account - " before the body of every message it sends.
func (api *API) SetTrial(trial bool) {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.trial = trial
}

// smartEncoded is what Twilio's smart encoding (SmartEncoded=true) does to
// the characters the tests use: typographic quotes, dashes and the
// ellipsis become their GSM-7 look-alikes.
var smartEncoded = strings.NewReplacer("\u201c", `"`, "\u201d", `"`, "\u2018", "'", "\u2019", "'",
	"\u2013", "-", "\u2014", "-", "\u2026", "...")

// MessagesPath is the path of the account's Messages resource.
func (api *API) MessagesPath() string { return "/2010-04-01/Accounts/" + api.sid + "/Messages.json" }

// AddMedia serves a media file of message messageSid (SM... or MM...) as mediaSID
// (ME...) and returns its URL.
func (api *API) AddMedia(messageSid, mediaSID, contentType string, body []byte) string {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.media[messageSid+"/"+mediaSID] = Media{ContentType: contentType, Body: body}
	return api.URL + "/2010-04-01/Accounts/" + api.sid + "/Messages/" + messageSid + "/Media/" + mediaSID
}

// AddFailingMedia makes the media file mediaSID of message messageSid
// answer status and returns its URL.
func (api *API) AddFailingMedia(messageSid, mediaSID string, status int) string {
	u := api.AddMedia(messageSid, mediaSID, "", nil)
	api.mu.Lock()
	defer api.mu.Unlock()
	m := api.media[messageSid+"/"+mediaSID]
	m.Status = status
	api.media[messageSid+"/"+mediaSID] = m
	return u
}

// FailSends makes the next message creations fail with statuses, in
// order, without creating a message.
func (api *API) FailSends(statuses ...int) {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.fail = append(api.fail, statuses...)
}

// Messages returns the messages created, oldest first.
func (api *API) Messages() []Message {
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]Message(nil), api.messages...)
}

// MediaRequests returns how many media files were requested.
func (api *API) MediaRequests() int {
	api.mu.Lock()
	defer api.mu.Unlock()
	return api.mediaRequests
}

func (api *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if sid, token, ok := r.BasicAuth(); !ok || sid != api.sid || token != api.token {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	account := "/2010-04-01/Accounts/" + api.sid + "/Messages/"
	switch {
	case r.URL.Path == api.MessagesPath() && r.Method == http.MethodPost:
		api.create(w, r)
	case r.URL.Path == api.MessagesPath() && r.Method == http.MethodGet:
		api.list(w, r)
	case strings.HasPrefix(r.URL.Path, account) && r.Method == http.MethodGet:
		message, media, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, account), "/Media/")
		api.mu.Lock()
		api.mediaRequests++
		m, ok := api.media[message+"/"+media]
		api.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
			return
		}
		if m.Status != 0 {
			writeError(w, m.Status, 20500, http.StatusText(m.Status))
			return
		}
		w.Header().Set("Content-Type", m.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.Body)))
		_, _ = w.Write(m.Body)
	default:
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	}
}

func (api *API) create(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 21602, "The request body is not a form")
		return
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.fail) > 0 {
		status := api.fail[0]
		api.fail = api.fail[1:]
		writeError(w, status, 21610, "Attempt to send to unsubscribed recipient")
		return
	}
	from, to, body := r.PostForm.Get("From"), r.PostForm.Get("To"), r.PostForm.Get("Body")
	if from == "" || to == "" || body == "" {
		writeError(w, http.StatusBadRequest, 21604, "From, To and Body are required")
		return
	}
	if r.PostForm.Get("SmartEncoded") == "true" {
		body = smartEncoded.Replace(body)
	}
	if api.trial {
		body = "Sent from your Twilio trial account - " + body
	}
	m := Message{SID: fmt.Sprintf("SM%032x", len(api.messages)+1), From: from, To: to, Body: body, Created: api.now().UTC()}
	api.messages = append(api.messages, m)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprint(w, api.resource(m))
}

func (api *API) resource(m Message) string {
	date := m.Created.Format(time.RFC1123Z)
	return fmt.Sprintf(`{"sid":%q,"account_sid":%q,"from":%q,"to":%q,"body":%q,"status":"queued","direction":"outbound-api","date_created":%q,"date_updated":%q,"date_sent":null,"uri":"/2010-04-01/Accounts/%s/Messages/%s.json"}`,
		m.SID, api.sid, m.From, m.To, m.Body, date, date, api.sid, m.SID)
}

// list serves one page of the messages matching To and From, newest
// first; Page is the page number.
func (api *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("PageSize"))
	if size <= 0 || size > 1000 {
		size = 50
	}
	page, _ := strconv.Atoi(q.Get("Page"))
	api.mu.Lock()
	var match []Message
	for i := len(api.messages) - 1; i >= 0; i-- {
		m := api.messages[i]
		if (q.Get("To") == "" || m.To == q.Get("To")) && (q.Get("From") == "" || m.From == q.Get("From")) {
			match = append(match, m)
		}
	}
	api.mu.Unlock()
	start := min(page*size, len(match))
	end := min(start+size, len(match))
	items := make([]string, 0, end-start)
	for _, m := range match[start:end] {
		items = append(items, api.resource(m))
	}
	next := "null"
	if end < len(match) {
		nq := r.URL.Query()
		nq.Set("Page", strconv.Itoa(page+1))
		nq.Set("PageSize", strconv.Itoa(size))
		next = strconv.Quote(api.MessagesPath() + "?" + nq.Encode())
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messages":[%s],"page":%d,"page_size":%d,"start":%d,"end":%d,"next_page_uri":%s,"uri":%q}`,
		strings.Join(items, ","), page, size, start, max(end-1, 0), next, r.URL.RequestURI())
}

func writeError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, message, code, status)
}
