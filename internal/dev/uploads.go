package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossfaas/crossfaas/functions/inspector"
	"github.com/crossfaas/crossfaas/functions/proxy"
	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
	"github.com/crossfaas/crossfaas/internal/s3fake"
)

// inspectorTimeout is the inspector's function timeout, as the stack sets it.
const inspectorTimeout = 60 * time.Second

// resultWait bounds how long the upload panel waits for a verdict.
const resultWait = 30 * time.Second

// DefaultUploadMaxMiB is the default of Options.UploadMaxMiB, as
// crossfaas:uploadMaxMiB's.
const DefaultUploadMaxMiB = 10

// uploads is the local uploads pipeline: the bucket "<prefix>-uploads" in
// a local S3 (package s3fake, reached with the real aws-sdk-go-v2 client),
// whose objects created under incoming/ invoke the real inspector handler
// asynchronously through the bus (Lambda's retries, then a dead letter), as
// S3 notifications do; and the upload panel's API on the phone simulator's
// server.
type uploads struct {
	store     *s3fake.Server
	client    *s3.Client
	bucket    string
	maxBytes  int64
	inspector *lambdaemu.Function
	system    *System
	logger    *slog.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each inspection
}

// startUploads serves the local S3 on ln and wires the inspector.
func (s *System) startUploads(opts Options, ln net.Listener) error {
	bucket := opts.Prefix + "-uploads"
	store, err := s3fake.New(bucket)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	store.URL = localURL(opts.Host, ln)
	s.uploadsSrv = s.serve(ln, store)
	s.UploadsURL, s.UploadsBucket = store.URL, bucket

	maxMiB := opts.UploadMaxMiB
	if maxMiB == 0 {
		maxMiB = DefaultUploadMaxMiB
	}
	labelerURL, err := proxy.ParseLabelerURL(s.LabelerURL)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	client := proxy.NewClient()
	if s.link != nil {
		client = s.link.InspectorClient()
	}
	name := opts.Prefix + "-uploads-inspector"
	h, err := inspector.New(inspector.Config{
		LabelerURL: labelerURL,
		MaxBytes:   int64(maxMiB) << 20,
		Languages:  opts.LabelLanguages,
		Action:     opts.UploadAction,
	}, store.Client(), client, opts.Logger.With("function", name), nil)
	if err != nil {
		return fmt.Errorf("dev: %s: %w", name, err)
	}
	u := &uploads{
		store: store, client: store.Client(), bucket: bucket, maxBytes: int64(maxMiB) << 20,
		inspector: lambdaemu.NewFunction(name, h.Handle, inspectorTimeout),
		system:    s, logger: opts.Logger.With("component", "uploads"), changed: make(chan struct{}),
	}
	store.Subscribe(bucket, inspector.IncomingPrefix, u.notified)
	s.uploads = u
	action := opts.UploadAction
	if action == "" {
		action = inspector.ActionQuarantine
	}
	s.notes = append(s.notes, fmt.Sprintf("Uploads: s3://%s/incoming/ on the local S3 (%s, path-style) is inspected (safeSearchAction %s);", bucket, store.URL, action),
		"  drop images on the simulator page's upload panel.")
	return nil
}

// notified hands an S3 event to the inspector, as S3 invokes it.
func (u *uploads) notified(rec events.S3EventRecord) {
	payload, err := json.Marshal(events.S3Event{Records: []events.S3EventRecord{rec}})
	if err != nil { // cannot happen: every field marshals
		u.logger.Error("uploads: encoding the event", "err", err)
		return
	}
	key, _ := url.QueryUnescape(rec.S3.Object.Key)
	err = u.system.Bus.InvokeAsync("arn:aws:s3:::"+u.bucket, "the upload "+key, u.inspector, payload, func(error) { u.inspected() })
	if err != nil {
		u.logger.Warn("uploads: the event was not delivered", "key", rec.S3.Object.Key, "err", err)
	}
}

// inspected wakes the panel's requests waiting for a verdict.
func (u *uploads) inspected() {
	u.mu.Lock()
	defer u.mu.Unlock()
	close(u.changed)
	u.changed = make(chan struct{})
}

// routes adds the upload panel's API to mux. Only the simulator's own
// page may upload (any page the developer visits could post otherwise).
func (u *uploads) routes(mux *http.ServeMux) {
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusForbidden, "cross-origin request refused: only the simulator's page may upload")
	}))
	mux.Handle("POST /_dev/uploads", sameOrigin.Handler(http.HandlerFunc(u.serveUpload)))
	mux.HandleFunc("GET /_dev/uploads/result", u.serveResult)
	mux.HandleFunc("GET /_dev/uploads/public/{name...}", u.servePublic)
}

// uploadReply is the answer to an upload.
type uploadReply struct {
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Name      string `json:"name"`
}

// serveUpload puts the body at incoming/<name> with the real S3 client.
func (u *uploads) serveUpload(w http.ResponseWriter, r *http.Request) {
	name := cleanName(r.URL.Query().Get("name"))
	if name == "" {
		writeJSONError(w, http.StatusBadRequest, "name the file: ?name=photo.jpg")
		return
	}
	// One more byte than the inspector takes: an oversize upload gets its
	// verdict like any other.
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, u.maxBytes+(1<<20)))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "the file is too large for the local upload panel: "+err.Error())
		return
	}
	out, err := u.client.PutObject(r.Context(), &s3.PutObjectInput{
		Bucket: aws.String(u.bucket), Key: aws.String(inspector.IncomingPrefix + name),
		Body: bytes.NewReader(data), ContentType: aws.String(r.Header.Get("Content-Type")),
	})
	if err != nil {
		writeJSONError(w, http.StatusBadGateway, "local S3: "+err.Error())
		return
	}
	writeJSONValue(w, http.StatusOK, uploadReply{Key: inspector.IncomingPrefix + name, VersionID: aws.ToString(out.VersionId), Name: name})
}

// resultReply is the sidecar with the URL of the blurred copy.
type resultReply struct {
	*inspector.Result
	PublicURL string `json:"publicUrl,omitempty"`
}

// serveResult answers the sidecar of ?name= for ?versionId= once its
// inspection is done (waiting up to resultWait), or the dead letter's
// error when it failed for good.
func (u *uploads) serveResult(w http.ResponseWriter, r *http.Request) {
	name, version := cleanName(r.URL.Query().Get("name")), r.URL.Query().Get("versionId")
	ctx, cancel := context.WithTimeout(r.Context(), resultWait)
	defer cancel()
	for {
		u.mu.Lock()
		changed := u.changed
		u.mu.Unlock()
		res, err := u.result(ctx, name)
		if err != nil {
			writeJSONError(w, http.StatusBadGateway, "local S3: "+err.Error())
			return
		}
		if res != nil && res.State == inspector.StateDone && (version == "" || res.VersionID == version) {
			reply := resultReply{Result: res}
			if res.PublicKey != "" {
				segments := strings.Split(res.PublicKey, "/")
				for i, s := range segments {
					segments[i] = url.PathEscape(s)
				}
				reply.PublicURL = "/_dev/uploads/" + strings.Join(segments, "/")
			}
			writeJSONValue(w, http.StatusOK, reply)
			return
		}
		if msg := u.deadLetter(name); msg != "" {
			writeJSONError(w, http.StatusBadGateway, "the inspection failed for good: "+msg)
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			writeJSONError(w, http.StatusGatewayTimeout, "no verdict yet for "+name)
			return
		}
	}
}

// result reads the sidecar of name, or nil.
func (u *uploads) result(ctx context.Context, name string) (*inspector.Result, error) {
	out, err := u.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(inspector.ResultsPrefix + name + ".json")})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil, nil
		}
		return nil, err
	}
	defer out.Body.Close()
	var res inspector.Result
	if err := json.NewDecoder(out.Body).Decode(&res); err != nil {
		return nil, err
	}
	return &res, nil
}

// deadLetter returns the error of the latest dead-lettered inspection of
// name, or "".
func (u *uploads) deadLetter(name string) string {
	key := s3fake.EncodeKey(inspector.IncomingPrefix + name)
	msg := ""
	for _, d := range u.system.Bus.DeadLetters() {
		if d.Function == u.inspector.Name() && strings.Contains(string(d.Payload), `"key":"`+key+`"`) {
			msg = d.Error
		}
	}
	return msg
}

// servePublic serves a blurred copy from public/ (and nothing else: the
// quarantine is for the admin role).
func (u *uploads) servePublic(w http.ResponseWriter, r *http.Request) {
	key := inspector.PublicPrefix + cleanName(r.PathValue("name"))
	out, err := u.client.GetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(key)})
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer out.Body.Close()
	w.Header().Set("Content-Type", aws.ToString(out.ContentType))
	w.Header().Set("Cache-Control", "no-store")
	io.Copy(w, out.Body)
}

// cleanName makes a file name a safe key under a prefix: no directories
// climbing out, no empty segments.
func cleanName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "." || strings.ContainsAny(clean, "\x00\r\n") {
		return ""
	}
	return clean
}

func writeJSONValue(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSONValue(w, status, map[string]string{"error": msg})
}
