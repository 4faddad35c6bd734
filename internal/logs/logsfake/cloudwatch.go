// Package logsfake holds loopback fakes of the two log services crossfaas
// logs reads, at the wire level, for tests of the real clients: CloudWatch
// Logs' FilterLogEvents (the awsJson1.1 protocol aws-sdk-go-v2 speaks,
// reached through AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or the client's
// BaseEndpoint) and Cloud Logging's ListLogEntries (gRPC, reached through
// option.WithEndpoint on an insecure connection).
//
// They page results, can fail calls on demand, and record the calls made.
// They model no other call, no IAM, and only the filters crossfaas sends
// (anything else is refused, so a query change shows up in the tests).
package logsfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// CloudWatchEvent is one event of a log group.
type CloudWatchEvent struct {
	Time    time.Time
	Stream  string
	Message string
}

// Fault is an error a fake answers one call with.
type Fault struct {
	// Status is the HTTP status (CloudWatch) of the answer.
	Status int
	// Code is the error type (CloudWatch's __type, e.g.
	// "ThrottlingException") or the gRPC code name (Cloud Logging).
	Code    string
	Message string
}

// FilterCall is one FilterLogEvents request.
type FilterCall struct {
	Group      string
	Start, End int64 // milliseconds, as sent (0 when absent)
	Token      string
}

// CloudWatchLogs is a fake CloudWatch Logs API serving FilterLogEvents.
type CloudWatchLogs struct {
	// PageSize is how many events a page holds; 0 means 3, small so tests
	// page.
	PageSize int

	mu     sync.Mutex
	groups map[string][]cloudWatchEvent
	next   int
	faults []Fault
	calls  []FilterCall
}

type cloudWatchEvent struct {
	CloudWatchEvent
	id string
}

// NewCloudWatchLogs returns an empty fake.
func NewCloudWatchLogs() *CloudWatchLogs {
	return &CloudWatchLogs{groups: map[string][]cloudWatchEvent{}}
}

// CreateGroup adds an empty log group.
func (f *CloudWatchLogs) CreateGroup(group string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[group]; !ok {
		f.groups[group] = nil
	}
}

// Put appends events to group, creating it.
func (f *CloudWatchLogs) Put(group string, events ...CloudWatchEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		f.next++
		if e.Stream == "" {
			e.Stream = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
		}
		f.groups[group] = append(f.groups[group], cloudWatchEvent{CloudWatchEvent: e, id: fmt.Sprintf("%056d", f.next)})
	}
	slices.SortStableFunc(f.groups[group], func(a, b cloudWatchEvent) int { return a.Time.Compare(b.Time) })
}

// FailNext makes the next calls fail, one fault each, in order.
func (f *CloudWatchLogs) FailNext(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// Calls returns the FilterLogEvents calls so far, failed ones included.
func (f *CloudWatchLogs) Calls() []FilterCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type filterRequest struct {
	LogGroupName string `json:"logGroupName"`
	StartTime    *int64 `json:"startTime"`
	EndTime      *int64 `json:"endTime"`
	NextToken    string `json:"nextToken"`
	Limit        int    `json:"limit"`
}

type filterEvent struct {
	EventID       string `json:"eventId"`
	IngestionTime int64  `json:"ingestionTime"`
	LogStreamName string `json:"logStreamName"`
	Message       string `json:"message"`
	Timestamp     int64  `json:"timestamp"`
}

// ServeHTTP answers the awsJson1.1 protocol.
func (f *CloudWatchLogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "Logs_20140328.FilterLogEvents" {
		writeAWSError(w, http.StatusBadRequest, "UnknownOperationException", "the fake serves only Logs_20140328.FilterLogEvents, not "+r.Header.Get("X-Amz-Target"))
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeAWSError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "the request is not signed")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeAWSError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var req filterRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeAWSError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	call := FilterCall{Group: req.LogGroupName, Token: req.NextToken}
	if req.StartTime != nil {
		call.Start = *req.StartTime
	}
	if req.EndTime != nil {
		call.End = *req.EndTime
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if len(f.faults) > 0 {
		fault := f.faults[0]
		f.faults = f.faults[1:]
		writeAWSError(w, fault.Status, fault.Code, fault.Message)
		return
	}
	events, ok := f.groups[req.LogGroupName]
	if !ok {
		writeAWSError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	var match []cloudWatchEvent
	for _, e := range events {
		ms := e.Time.UnixMilli()
		if (req.StartTime == nil || ms >= *req.StartTime) && (req.EndTime == nil || ms <= *req.EndTime) {
			match = append(match, e)
		}
	}
	offset := 0
	if req.NextToken != "" {
		if offset, err = strconv.Atoi(req.NextToken); err != nil || offset < 0 || offset > len(match) {
			writeAWSError(w, http.StatusBadRequest, "InvalidParameterException", "The specified nextToken is invalid.")
			return
		}
	}
	size := f.PageSize
	if size <= 0 {
		size = 3
	}
	if req.Limit > 0 && req.Limit < size {
		size = req.Limit
	}
	page := match[offset:min(offset+size, len(match))]
	resp := struct {
		Events    []filterEvent `json:"events"`
		NextToken string        `json:"nextToken,omitempty"`
	}{Events: []filterEvent{}}
	for _, e := range page {
		resp.Events = append(resp.Events, filterEvent{EventID: e.id, IngestionTime: e.Time.UnixMilli() + 100, LogStreamName: e.Stream, Message: e.Message, Timestamp: e.Time.UnixMilli()})
	}
	if offset+size < len(match) {
		resp.NextToken = strconv.Itoa(offset + size)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

func writeAWSError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
