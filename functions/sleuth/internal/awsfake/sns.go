package awsfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"sync"
)

// SNS fakes SNS Publish (query protocol) to topics created with
// CreateTopic; publishing elsewhere fails with NotFound, like SNS.
type SNS struct {
	Faults

	mu        sync.Mutex
	topics    map[string]bool
	published []Published
	calls     int
}

// Published is one message the fake accepted.
type Published struct {
	TopicARN  string
	Message   string
	MessageID string
}

// NewSNS returns a fake with no topics.
func NewSNS() *SNS { return &SNS{topics: map[string]bool{}} }

// CreateTopic makes a topic exist.
func (f *SNS) CreateTopic(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[arn] = true
}

// Published returns the messages accepted, in order.
func (f *SNS) Published() []Published {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Published(nil), f.published...)
}

// Calls returns how many Publish requests the fake served, faults included.
func (f *SNS) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// ServeHTTP serves one query-protocol request.
func (f *SNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeQueryError(w, http.StatusBadRequest, "InvalidParameter", err.Error())
		return
	}
	if action := r.PostForm.Get("Action"); action != "Publish" {
		writeQueryError(w, http.StatusBadRequest, "InvalidAction", "fake does not implement "+action)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if code, ok := f.next("Publish"); ok {
		writeQueryError(w, faultStatus(code), code, "injected fault")
		return
	}
	topic, message := r.PostForm.Get("TopicArn"), r.PostForm.Get("Message")
	switch {
	case !f.topics[topic]:
		writeQueryError(w, http.StatusNotFound, "NotFound", "Topic does not exist")
		return
	case message == "":
		writeQueryError(w, http.StatusBadRequest, "InvalidParameter", "Invalid parameter: Empty message")
		return
	}
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", len(f.published)+1)
	f.published = append(f.published, Published{TopicARN: topic, Message: message, MessageID: id})
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>%s</MessageId></PublishResult>
  <ResponseMetadata><RequestId>fake-request-%d</RequestId></ResponseMetadata>
</PublishResponse>`, id, f.calls)
}

// writeQueryError writes an error of the AWS query protocol.
func writeQueryError(w http.ResponseWriter, status int, code, message string) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errorResponse struct {
		XMLName   xml.Name  `xml:"ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(errorResponse{Error: errorBody{Type: kind, Code: code, Message: message}, RequestID: "fake-error"})
}
