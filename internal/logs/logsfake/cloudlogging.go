package logsfake

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// CloudLogging is a fake Cloud Logging API serving ListLogEntries over
// gRPC.
type CloudLogging struct {
	loggingpb.UnimplementedLoggingServiceV2Server

	// PageSize is how many entries a page holds; 0 means 3.
	PageSize int

	mu      sync.Mutex
	entries []*loggingpb.LogEntry
	faults  []Fault
	filters []string
}

// NewCloudLogging returns an empty fake.
func NewCloudLogging() *CloudLogging { return &CloudLogging{} }

// Serve serves the fake on a new loopback port until the test's cleanup
// and returns its host:port.
func (f *CloudLogging) Serve(t interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
}) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("logsfake: %v", err)
	}
	srv := grpc.NewServer()
	loggingpb.RegisterLoggingServiceV2Server(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// Add stores entries; each needs a timestamp and an insert id (a missing
// one is made up).
func (f *CloudLogging) Add(entries ...*loggingpb.LogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range entries {
		e = proto.Clone(e).(*loggingpb.LogEntry)
		if e.InsertId == "" {
			e.InsertId = fmt.Sprintf("fake%012d", len(f.entries)+1)
		}
		f.entries = append(f.entries, e)
	}
	slices.SortStableFunc(f.entries, func(a, b *loggingpb.LogEntry) int {
		return a.GetTimestamp().AsTime().Compare(b.GetTimestamp().AsTime())
	})
}

// FailNext makes the next calls fail, one fault each, with the gRPC code
// named by Fault.Code (e.g. "Unavailable", "ResourceExhausted").
func (f *CloudLogging) FailNext(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// Filters returns the filters of the ListLogEntries calls so far.
func (f *CloudLogging) Filters() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.filters)
}

// term is one comparison of a filter: field op "value".
var term = regexp.MustCompile(`^([a-z_.]+)\s*(>=|<=|=|<|>)\s*"((?:[^"\\]|\\.)*)"$`)

// ListLogEntries lists the entries matching the request's filter, oldest
// first, in pages.
func (f *CloudLogging) ListLogEntries(_ context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, req.GetFilter())
	if len(f.faults) > 0 {
		fault := f.faults[0]
		f.faults = f.faults[1:]
		return nil, status.Error(codeNamed(fault.Code), fault.Message)
	}
	if len(req.GetResourceNames()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "resource_names is required")
	}
	if req.GetOrderBy() != "" && req.GetOrderBy() != "timestamp asc" {
		return nil, status.Errorf(codes.InvalidArgument, "the fake orders by timestamp asc only, not %q", req.GetOrderBy())
	}
	match, err := compile(req.GetFilter())
	if err != nil {
		return nil, err
	}
	var found []*loggingpb.LogEntry
	for _, e := range f.entries {
		if match(e) {
			found = append(found, e)
		}
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		if offset, err = strconv.Atoi(tok); err != nil || offset < 0 || offset > len(found) {
			return nil, status.Error(codes.InvalidArgument, "invalid page token")
		}
	}
	size := f.PageSize
	if size <= 0 {
		size = 3
	}
	if n := int(req.GetPageSize()); n > 0 && n < size {
		size = n
	}
	resp := &loggingpb.ListLogEntriesResponse{Entries: found[offset:min(offset+size, len(found))]}
	if offset+size < len(found) {
		resp.NextPageToken = strconv.Itoa(offset + size)
	}
	return resp, nil
}

// compile turns a filter of terms joined by AND into a predicate. Fields:
// resource.type, resource.labels.<name>, timestamp, logName.
func compile(filter string) (func(*loggingpb.LogEntry) bool, error) {
	var preds []func(*loggingpb.LogEntry) bool
	for _, t := range strings.Split(filter, " AND ") {
		m := term.FindStringSubmatch(strings.TrimSpace(t))
		if m == nil {
			return nil, status.Errorf(codes.InvalidArgument, "the fake does not understand the filter term %q", t)
		}
		field, op, raw := m[1], m[2], m[3]
		value, err := strconv.Unquote(`"` + raw + `"`)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad value in %q", t)
		}
		switch {
		case field == "timestamp":
			at, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "bad timestamp in %q", t)
			}
			preds = append(preds, func(e *loggingpb.LogEntry) bool {
				c := e.GetTimestamp().AsTime().Compare(at)
				switch op {
				case ">=":
					return c >= 0
				case ">":
					return c > 0
				case "<=":
					return c <= 0
				case "<":
					return c < 0
				}
				return c == 0
			})
		case op != "=":
			return nil, status.Errorf(codes.InvalidArgument, "the fake compares %s with = only", field)
		case field == "resource.type":
			preds = append(preds, func(e *loggingpb.LogEntry) bool { return e.GetResource().GetType() == value })
		case strings.HasPrefix(field, "resource.labels."):
			label := strings.TrimPrefix(field, "resource.labels.")
			preds = append(preds, func(e *loggingpb.LogEntry) bool { return e.GetResource().GetLabels()[label] == value })
		case field == "logName":
			preds = append(preds, func(e *loggingpb.LogEntry) bool { return e.GetLogName() == value })
		default:
			return nil, status.Errorf(codes.InvalidArgument, "the fake does not filter on %s", field)
		}
	}
	return func(e *loggingpb.LogEntry) bool {
		for _, p := range preds {
			if !p(e) {
				return false
			}
		}
		return true
	}, nil
}

func codeNamed(name string) codes.Code {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	return codes.Unknown
}
