// Package faults injects transport-level faults into the fake servers of
// the sleuth tests, in front of their handlers: a call can be answered
// with a transient error instead of being served, served and its response
// lost (the headers of a 200 and part of the body, then the connection
// closed: aws-sdk-go-v2 then fails deserializing and, for most errors,
// sends the call again), or served and then held, with every request after
// it, until the caller gives up or is killed (a crash right after the
// call, as a Lambda runtime killed by its timeout leaves it).
//
// An Injector numbers the calls it sees across every server it wraps, so
// a test can name "the k-th outbound call" of a handler, whatever service
// it goes to.
package faults

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Kind is a fault.
type Kind string

// The faults.
const (
	// None serves the call.
	None Kind = ""
	// Transient answers 500 without serving the call.
	Transient Kind = "transient"
	// Lost serves the call, then sends the headers of its response with
	// only half of its body and closes the connection.
	Lost Kind = "lost"
	// Crash serves the call, then holds its response and every later
	// request until Release.
	Crash Kind = "crash"
)

// Call is one request an Injector saw.
type Call struct {
	Service string // as given to Wrap, e.g. "dynamodb"
	Op      string // e.g. "UpdateItem", "POST Messages.json"
}

func (c Call) String() string { return c.Service + "." + c.Op }

// Injector wraps fake servers and injects at most one fault at a time. Its
// methods are safe for concurrent use.
type Injector struct {
	mu      sync.Mutex
	calls   []Call
	at      int // the number of the call to fault, from 1; 0: none
	base    int // calls[base:] are counted towards at
	kind    Kind
	match   func(Call) bool
	hit     bool
	hitCall Call // the call the fault was injected into, and the fault
	hitKind Kind
	held    chan struct{} // closed by Release
	holding bool
	crashed chan struct{} // closed when a Crash fault is hit
}

// New returns an Injector with no fault set.
func New() *Injector { return &Injector{held: make(chan struct{}), crashed: make(chan struct{})} }

// Crashed is closed once the Crash fault set by the latest Set was hit and
// its call served: the moment to kill the caller.
func (in *Injector) Crashed() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.crashed
}

// Set makes the n-th call (from 1, counting from now) that match accepts
// (nil: any) get kind, and resets the count and the calls seen.
func (in *Injector) Set(n int, kind Kind, match func(Call) bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls, in.at, in.kind, in.match, in.hit, in.base = nil, n, kind, match, false, 0
	in.crashed = make(chan struct{})
}

// Arm is Set keeping the calls seen: the n-th call from now that match
// accepts gets kind, and Injected reports this fault from now on.
func (in *Injector) Arm(n int, kind Kind, match func(Call) bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.at, in.kind, in.match, in.hit, in.base = n, kind, match, false, len(in.calls)
	in.crashed = make(chan struct{})
}

// Clear removes the fault, keeping the calls seen.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.at, in.kind = 0, None
	select {
	case <-in.crashed: // a crash was signalled: the next one is a new one
		in.crashed = make(chan struct{})
	default:
	}
}

// Calls returns the calls seen since Set, in order.
func (in *Injector) Calls() []Call {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Call(nil), in.calls...)
}

// Hit reports whether the fault was injected.
func (in *Injector) Hit() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.hit
}

// Injected returns the call the fault was injected into and the fault;
// ok is false when none was.
func (in *Injector) Injected() (call Call, kind Kind, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.hit {
		return Call{}, None, false
	}
	return in.hitCall, in.hitKind, true
}

// Release lets held requests go (their connections are closed) and stops
// holding new ones.
func (in *Injector) Release() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.holding {
		close(in.held)
		in.held = make(chan struct{})
		in.holding = false
	}
}

// Wrap returns h behind the injector. op names a request's operation.
func (in *Injector) Wrap(service string, op func(*http.Request) string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Buffer the body: op may read it, and so will h.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		call := Call{Service: service, Op: op(r)}
		r.Body = io.NopCloser(bytes.NewReader(body))

		in.mu.Lock()
		if in.holding { // crashed: nothing gets through any more
			held := in.held
			in.mu.Unlock()
			hold(w, r, held)
			return
		}
		in.calls = append(in.calls, call)
		kind := None
		if in.at > 0 && !in.hit && (in.match == nil || in.match(call)) {
			n := 0
			for _, c := range in.calls[in.base:] {
				if in.match == nil || in.match(c) {
					n++
				}
			}
			if n == in.at {
				kind, in.hit, in.hitCall, in.hitKind = in.kind, true, call, in.kind
				if kind == Crash {
					in.holding = true
				}
			}
		}
		held, crashed := in.held, in.crashed
		in.mu.Unlock()

		switch kind {
		case Transient:
			transient(w, service)
		case Lost:
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			lose(w, rec)
		case Crash:
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			close(crashed)
			hold(w, r, held)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// transient answers 500 in the service's error format.
func transient(w http.ResponseWriter, service string) {
	switch service {
	case "sns":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>InternalError</Code><Message>injected</Message></Error><RequestId>fault</RequestId></ErrorResponse>`)
	case "twilio", "wikipedia":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"code":20500,"message":"Internal Server Error (injected)","status":500}`)
	default: // AWS JSON protocols
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "InternalServerError")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"__type":"InternalServerError","message":"injected"}`)
	}
}

// lose sends rec's headers and status 200 with the full Content-Length,
// half of its body, and resets the connection: the client reads
// "connection reset by peer" in the body, as when a network drops a
// response (aws-sdk-go-v2 retries that; a clean close reads as an
// unexpected EOF, which it doesn't).
func lose(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(max(len(body), 2)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			_ = buf.Flush()
			reset(conn)
		}
	}
}

// hold keeps the request open until released or its client goes, then
// closes the connection without an answer.
func hold(w http.ResponseWriter, r *http.Request, released <-chan struct{}) {
	select {
	case <-released:
	case <-r.Context().Done():
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			reset(conn)
		}
	}
}

// reset closes conn with a TCP reset.
func reset(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}

// AWSOp names the operation of an AWS request: the X-Amz-Target's
// operation for the JSON protocols, the form's Action for the query
// protocol (SNS).
func AWSOp(r *http.Request) string {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		_, op, _ := strings.Cut(target, ".")
		return op
	}
	body, _ := io.ReadAll(r.Body)
	values, _ := url.ParseQuery(string(body))
	return values.Get("Action")
}

// AWSService names the service of an AWS request by its X-Amz-Target
// prefix ("dynamodb", "rekognition", "ssm"), "sns" without one.
func AWSService(r *http.Request) string {
	target, _, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	switch {
	case strings.HasPrefix(target, "DynamoDB"):
		return "dynamodb"
	case strings.HasPrefix(target, "Rekognition"):
		return "rekognition"
	case target == "AmazonSSM":
		return "ssm"
	case target == "":
		return "sns"
	}
	return strings.ToLower(target)
}

// WrapAWS wraps a server of several AWS fakes (awsfake.Cloud), naming each
// call by its service and operation.
func (in *Injector) WrapAWS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service := AWSService(r)
		in.Wrap(service, AWSOp, h).ServeHTTP(w, r)
	})
}

// HTTPOp names a plain HTTP request by its method and the last element of
// its path ("GET Media", "POST Messages.json").
func HTTPOp(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.Path, "/")
	last := p[strings.LastIndexByte(p, '/')+1:]
	if i := strings.LastIndex(p, "/Media/"); i >= 0 {
		last = "Media"
	}
	return r.Method + " " + last
}
