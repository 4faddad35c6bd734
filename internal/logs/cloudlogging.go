package logs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/logging"
	"cloud.google.com/go/logging/logadmin"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/structpb"
)

// EntriesAPI lists log entries; *logadmin.Client is one.
type EntriesAPI interface {
	Entries(ctx context.Context, opts ...logadmin.EntriesOption) *logadmin.EntryIterator
}

// CloudLogging is the log of one 2nd gen Cloud Function: the entries of
// the Cloud Run service that runs it (its stdout and stderr, and Cloud
// Run's request log).
type CloudLogging struct {
	Client EntriesAPI
	// Service is the Cloud Run service's name (a 2nd gen function's
	// name); Function the function's name without the stack prefix.
	Service  string
	Function string
}

// Name implements Source.
func (c *CloudLogging) Name() string { return "Cloud Logging service " + c.Service }

// Filter returns the Logging query of the service's entries from start
// (inclusive) to end (exclusive).
func (c *CloudLogging) Filter(start, end time.Time) string {
	return fmt.Sprintf(`resource.type="cloud_run_revision" AND resource.labels.service_name=%q AND timestamp>=%q AND timestamp<%q`,
		c.Service, start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano))
}

// Fetch implements Source with ListLogEntries, oldest first, following
// the page tokens.
func (c *CloudLogging) Fetch(ctx context.Context, start, end time.Time, each func(Event) error) error {
	it := c.Client.Entries(ctx, logadmin.Filter(c.Filter(start, end)))
	for {
		entry, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(c.event(entry)); err != nil {
			return err
		}
	}
}

// event turns an entry into an Event.
func (c *CloudLogging) event(entry *logging.Entry) Event {
	e := Event{Cloud: "gcp", Function: c.Function, ID: entry.InsertID, Time: entry.Timestamp.UTC()}
	if entry.Severity != logging.Default {
		e.Level = strings.ToUpper(entry.Severity.String())
	}
	switch p := entry.Payload.(type) {
	case string:
		applyLine(&e, p)
	case *structpb.Struct:
		applyFields(&e, p.AsMap())
	case nil:
	default:
		e.Message = fmt.Sprint(p)
	}
	if r := entry.HTTPRequest; r != nil && e.Message == "" {
		// Cloud Run's request log: the request line and its outcome.
		method, path := "", ""
		if r.Request != nil {
			method, path = r.Request.Method, r.Request.URL.Path
		}
		e.Message = fmt.Sprintf("%s %s %d %s", method, path, r.Status, r.Latency.Round(time.Millisecond))
	}
	if entry.Trace != "" {
		// The request log carries the trace Cloud Run read from the
		// incoming traceparent; a function's own line its logged trace.
		e.Correlation = traceID(entry.Trace)
	}
	if e.Level == "WARNING" {
		e.Level = "WARN"
	}
	return e
}

var _ Source = (*CloudLogging)(nil)
