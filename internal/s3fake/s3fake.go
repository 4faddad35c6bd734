// Package s3fake is an Amazon S3 on loopback, for the tests and for
// `crossfaas dev`: github.com/johannesboyne/gofakes3 (its in-memory backend,
// every bucket versioned) completed, at the wire level, with what gofakes3
// lacks and crossfaas uses:
//
//   - object tagging: GET, PUT and DELETE ?tagging, of the current object or
//     of a version (?versionId=), and x-amz-tagging on PutObject. gofakes3
//     routes a PUT ?tagging to PutObject, which would overwrite the object
//     with the tagging document;
//   - CopyObject of a given source version (x-amz-copy-source
//     "<bucket>/<key>?versionId=<id>"; gofakes3 copies the latest), with
//     x-amz-tagging-directive COPY (the default) or REPLACE; the source is
//     URL-decoded as S3 decodes it, "+" as a space;
//   - event notifications: each ObjectCreated event (Put, Post, Copy,
//     CompleteMultipartUpload) as S3 delivers it, an aws-lambda-go
//     events.S3EventRecord with a URL-encoded key, the version id and a
//     sequencer, to the subscribers of its bucket and key prefix
//     (Subscribe);
//   - a record of the calls (Calls) and a hook to fail or stall chosen ones
//     (Intercept), for the tests.
//
// Clients reach it path-style (http://127.0.0.1:<port>/<bucket>/<key>) with
// any credentials: signatures are not checked.
package s3fake

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// DefaultRegion is the region of the fake's buckets and events.
const DefaultRegion = "us-east-1"

// Call is one request the fake received.
type Call struct {
	// Op is the S3 operation: PutObject, GetObject, HeadObject,
	// DeleteObject, CopyObject, PutObjectTagging, GetObjectTagging,
	// DeleteObjectTagging, ListObjects, or the HTTP method and path for
	// anything else.
	Op        string
	Bucket    string
	Key       string
	VersionID string
	// Source is CopyObject's source, "<bucket>/<key>[?versionId=...]".
	Source string
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the fake's endpoint, http://127.0.0.1:<port>.
	URL    string
	Region string

	backend *s3mem.Backend
	fake    http.Handler
	srv     *http.Server

	mu        sync.Mutex
	tags      map[versionKey][]Tag
	subs      []subscription
	calls     []Call
	sequence  uint64
	intercept func(w http.ResponseWriter, r *http.Request, c Call) bool
}

// Tag is an object tag.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type versionKey struct{ bucket, key, version string }

type subscription struct {
	bucket, prefix string
	fn             func(events.S3EventRecord)
}

// Start starts a fake on 127.0.0.1 with the given buckets, each versioned.
// Close stops it.
func Start(buckets ...string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3fake: listen: %w", err)
	}
	s, err := New(buckets...)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// New returns a fake that is not listening: serve it (it is an
// http.Handler) and set URL.
func New(buckets ...string) (*Server, error) {
	backend := s3mem.New()
	s := &Server{
		Region:  DefaultRegion,
		backend: backend,
		fake:    gofakes3.New(backend, gofakes3.WithIntegrityCheck(true)).Server(),
		tags:    map[versionKey][]Tag{},
	}
	for _, b := range buckets {
		if err := s.CreateBucket(b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CreateBucket creates a versioned bucket.
func (s *Server) CreateBucket(name string) error {
	if err := s.backend.CreateBucket(name); err != nil {
		return fmt.Errorf("s3fake: create bucket %s: %w", name, err)
	}
	if err := s.backend.SetVersioningConfiguration(name, gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled}); err != nil {
		return fmt.Errorf("s3fake: enable versioning of %s: %w", name, err)
	}
	return nil
}

// Close stops the server started by Start.
func (s *Server) Close() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if s.srv.Shutdown(ctx) != nil {
			s.srv.Close()
		}
	}
}

// Subscribe delivers the ObjectCreated events of bucket whose keys start
// with prefix to fn, synchronously, after the request that created the
// object was answered. fn must not block for long: hand the event to an
// invoker of its own.
func (s *Server) Subscribe(bucket, prefix string, fn func(events.S3EventRecord)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, subscription{bucket, prefix, fn})
}

// Intercept installs fn, which sees every request first (with its Call)
// and answers it itself when it returns true: to fail, stall or crash on
// chosen calls. Nil removes it.
func (s *Server) Intercept(fn func(w http.ResponseWriter, r *http.Request, c Call) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = fn
}

// Calls returns the requests received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of op on key were received.
func (s *Server) Count(op, key string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Op == op && c.Key == key {
			n++
		}
	}
	return n
}

// ServeHTTP serves the S3 API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := classify(r)
	s.mu.Lock()
	s.calls = append(s.calls, c)
	intercept := s.intercept
	s.mu.Unlock()
	if intercept != nil && intercept(w, r, c) {
		return
	}
	switch c.Op {
	case "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging":
		s.serveTagging(w, r, c)
	case "CopyObject":
		s.serveCopy(w, r, c)
	case "PutObject":
		tags, err := parseTagHeader(r.Header.Get("X-Amz-Tagging"))
		if err != nil {
			WriteError(w, http.StatusBadRequest, "InvalidTag", err.Error(), c.Key)
			return
		}
		r.Header.Del("X-Amz-Tagging")
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		s.fake.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			version := rec.Header().Get("X-Amz-Version-Id")
			if tags != nil {
				s.setTags(c.Bucket, c.Key, version, tags)
			}
			s.notify("ObjectCreated:Put", c.Bucket, c.Key, version)
		}
	case "CompleteMultipartUpload":
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		s.fake.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			s.notify("ObjectCreated:CompleteMultipartUpload", c.Bucket, c.Key, rec.Header().Get("X-Amz-Version-Id"))
		}
	default:
		s.fake.ServeHTTP(w, r)
	}
}

// classify names the operation of r.
func classify(r *http.Request) Call {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	c := Call{Bucket: bucket, Key: key, VersionID: q.Get("versionId")}
	switch {
	case key != "" && q.Has("tagging"):
		c.Op = map[string]string{http.MethodGet: "GetObjectTagging", http.MethodPut: "PutObjectTagging", http.MethodDelete: "DeleteObjectTagging"}[r.Method]
	case key != "" && r.Method == http.MethodPost && q.Has("uploadId"):
		c.Op = "CompleteMultipartUpload"
	case key != "" && r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" && !q.Has("uploadId"):
		c.Op, c.Source = "CopyObject", r.Header.Get("X-Amz-Copy-Source")
	case key != "" && r.Method == http.MethodPut && !q.Has("uploadId") && !q.Has("acl"):
		c.Op = "PutObject"
	case key != "" && r.Method == http.MethodGet && len(q) <= 1:
		c.Op = "GetObject"
	case key != "" && r.Method == http.MethodHead:
		c.Op = "HeadObject"
	case key != "" && r.Method == http.MethodDelete && !q.Has("uploadId"):
		c.Op = "DeleteObject"
	case key == "" && r.Method == http.MethodGet && !q.Has("versions") && !q.Has("versioning") && !q.Has("location"):
		c.Op = "ListObjects"
	}
	if c.Op == "" {
		c.Op = r.Method + " " + r.URL.Path
	}
	return c
}

// notify builds the ObjectCreated event of the object version just
// written and hands it to the subscribers of its bucket and key.
func (s *Server) notify(name, bucket, key, version string) {
	obj, err := s.head(bucket, key, version)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.sequence++
	rec := Record(s.Region, name, bucket, key, version, fmt.Sprintf("%x", obj.Hash), obj.Size, fmt.Sprintf("%016X", s.sequence), time.Now())
	var fns []func(events.S3EventRecord)
	for _, sub := range s.subs {
		if sub.bucket == bucket && strings.HasPrefix(key, sub.prefix) {
			fns = append(fns, sub.fn)
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(rec)
	}
}

// Record builds an S3 event record as S3 sends it to Lambda: event version
// 2.1, the key URL-encoded (spaces as "+", slashes kept), the eTag without
// quotes.
func Record(region, name, bucket, key, version, etag string, size int64, sequencer string, at time.Time) events.S3EventRecord {
	return events.S3EventRecord{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         region,
		EventTime:         at.UTC(),
		EventName:         name,
		PrincipalID:       events.S3UserIdentity{PrincipalID: "AWS:AIDAS3FAKEUSER"},
		RequestParameters: events.S3RequestParameters{SourceIPAddress: "127.0.0.1"},
		ResponseElements:  map[string]string{"x-amz-request-id": sequencer, "x-amz-id-2": "s3fake/" + sequencer},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "s3fake",
			Bucket: events.S3Bucket{
				Name:          bucket,
				OwnerIdentity: events.S3UserIdentity{PrincipalID: "A3S3FAKEOWNER"},
				Arn:           "arn:aws:s3:::" + bucket,
			},
			Object: events.S3Object{
				Key:       EncodeKey(key),
				Size:      size,
				ETag:      etag,
				VersionID: version,
				Sequencer: sequencer,
			},
		},
	}
}

// EncodeKey encodes an object key as S3 event notifications carry it.
func EncodeKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// head returns an object version's metadata ("" is the current version).
func (s *Server) head(bucket, key, version string) (*gofakes3.Object, error) {
	var (
		obj *gofakes3.Object
		err error
	)
	if version != "" {
		obj, err = s.backend.HeadObjectVersion(bucket, key, gofakes3.VersionID(version))
	} else {
		obj, err = s.backend.HeadObject(bucket, key)
	}
	if err != nil {
		return nil, err
	}
	obj.Contents.Close()
	if obj.IsDeleteMarker {
		return nil, gofakes3.KeyNotFound(key)
	}
	return obj, nil
}

// recorder passes a response through, noting its status.
type recorder struct {
	http.ResponseWriter
	status  int
	written bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.written {
		r.status, r.written = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

// WriteError answers an S3 error document.
func WriteError(w http.ResponseWriter, status int, code, message, resource string) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	xml.NewEncoder(&b).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		Resource  string   `xml:"Resource,omitempty"`
		RequestID string   `xml:"RequestId"`
	}{Code: code, Message: message, Resource: resource, RequestID: "s3fake"})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// writeBackendError answers the error of a backend call.
func writeBackendError(w http.ResponseWriter, err error, key string) {
	var e gofakes3.Error
	if errors.As(err, &e) {
		status := e.ErrorCode().Status()
		WriteError(w, status, string(e.ErrorCode()), err.Error(), key)
		return
	}
	WriteError(w, http.StatusInternalServerError, "InternalError", err.Error(), key)
}

// Client returns the real aws-sdk-go-v2 S3 client pointed at the fake:
// path-style addressing, placeholder credentials, the fake's region.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAS3FAKE", "s3fake-secret", ""),
	})
}
