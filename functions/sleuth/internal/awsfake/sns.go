package awsfake

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// SNS fakes SNS Publish (query protocol, API version 2010-03-31) to topics
// created with CreateTopic; publishing elsewhere fails with NotFound, like
// SNS, unless AllTopicsExist was called. It refuses, and records in Errors,
// requests that are not well-formed Publish calls.
type SNS struct {
	Faults
	Envelope

	mu        sync.Mutex
	topics    map[string]bool
	anyTopic  bool
	published []Published
	calls     int
}

// Published is one message the fake accepted.
type Published struct {
	TopicARN  string
	Message   string
	MessageID string
	// Attributes are the String message attributes, by name; empty, not
	// nil, when the message had none.
	Attributes map[string]string
}

// NewSNS returns a fake with no topics.
func NewSNS() *SNS { return &SNS{topics: map[string]bool{}} }

// CreateTopic makes a topic exist.
func (f *SNS) CreateTopic(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[arn] = true
}

// AllTopicsExist makes every topic exist, for tests that don't care where
// messages go.
func (f *SNS) AllTopicsExist() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.anyTopic = true
}

// Published returns the messages accepted, in order.
func (f *SNS) Published() []Published {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Published, len(f.published))
	for i, p := range f.published {
		p.Attributes = maps.Clone(p.Attributes)
		out[i] = p
	}
	return out
}

// Calls returns how many well-formed Publish requests the fake served,
// faults included.
func (f *SNS) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// snsErrorStatus is the HTTP status SNS answers an error code with; codes
// not listed get faultStatus.
var snsErrorStatus = map[string]int{
	"AuthorizationError":   http.StatusForbidden,
	"InvalidClientTokenId": http.StatusForbidden,
	"InternalError":        http.StatusInternalServerError,
	"InvalidAction":        http.StatusBadRequest,
	"InvalidParameter":     http.StatusBadRequest,
	"NotFound":             http.StatusNotFound,
	"Throttled":            http.StatusTooManyRequests,
}

func snsStatus(code string) int {
	if status, ok := snsErrorStatus[code]; ok {
		return status
	}
	return faultStatus(code)
}

// ServeHTTP serves one query-protocol request.
func (f *SNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f.checkSigned(r); err != nil {
		f.refuse(err)
		writeQueryError(w, "InvalidClientTokenId", err.Error())
		return
	}
	form, err := parseQuery(r)
	if err != nil {
		f.refuse(err)
		writeQueryError(w, "InvalidParameter", err.Error())
		return
	}
	if action := form.Get("Action"); action != "Publish" {
		f.refuse(fmt.Errorf("unsupported action %q", action))
		writeQueryError(w, "InvalidAction", "the fake does not implement "+action)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if code, ok := f.next("Publish"); ok {
		writeQueryError(w, code, "injected fault")
		return
	}
	topic, message := form.Get("TopicArn"), form.Get("Message")
	switch {
	case topic == "":
		writeQueryError(w, "InvalidParameter", "Invalid parameter: TopicArn Reason: no value for required parameter")
		return
	case !f.anyTopic && !f.topics[topic]:
		writeQueryError(w, "NotFound", "Topic does not exist")
		return
	case message == "":
		writeQueryError(w, "InvalidParameter", "Invalid parameter: Empty message")
		return
	}
	attrs := map[string]string{}
	for i := 1; ; i++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		if !form.Has(prefix + "Name") {
			break
		}
		if dt := form.Get(prefix + "Value.DataType"); dt != "String" {
			writeQueryError(w, "InvalidParameter", "the fake supports String message attributes only, got "+dt)
			return
		}
		attrs[form.Get(prefix+"Name")] = form.Get(prefix + "Value.StringValue")
	}
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", len(f.published)+1)
	f.published = append(f.published, Published{TopicARN: topic, Message: message, MessageID: id, Attributes: attrs})
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>%s</MessageId></PublishResult>
  <ResponseMetadata><RequestId>fake-request-%d</RequestId></ResponseMetadata>
</PublishResponse>`, id, f.calls)
}

// parseQuery checks the envelope of a query-protocol request for SNS and
// returns its form.
func parseQuery(r *http.Request) (url.Values, error) {
	if err := checkPost(r); err != nil {
		return nil, err
	}
	const form = "application/x-www-form-urlencoded"
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, form) {
		return nil, fmt.Errorf("content type %q, want %s", ct, form)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("body is not a form: %w", err)
	}
	if v := values.Get("Version"); v != "2010-03-31" {
		return nil, fmt.Errorf("API version %q, want 2010-03-31", v)
	}
	return values, nil
}

// writeQueryError writes an SNS error of the AWS query protocol, with the
// status SNS uses for code.
func writeQueryError(w http.ResponseWriter, code, message string) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errorResponse struct {
		XMLName   xml.Name  `xml:"http://sns.amazonaws.com/doc/2010-03-31/ ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}
	status := snsStatus(code)
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	// The encoder escapes the message; a failed write means the client went
	// away.
	_ = xml.NewEncoder(w).Encode(errorResponse{Error: errorBody{Type: kind, Code: code, Message: message}, RequestID: "fake-error"})
}
