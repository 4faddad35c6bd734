package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Transient reports whether err is worth retrying: what the AWS SDK's
// standard retryer retries (throttling, 5xx, connection errors, timeouts),
// the gRPC codes Google's APIs use for the same (Unavailable,
// ResourceExhausted, DeadlineExceeded, Internal, Aborted), and network
// errors.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if _, ok := errors.AsType[*credentialsError](err); ok {
		return false
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		switch s.Code() {
		case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal, codes.Aborted:
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// TextWriter returns a writer of events as aligned lines for a person:
// time (UTC, milliseconds), cloud, function, level, message and, last,
// the correlation id.
func TextWriter(w io.Writer) func(Event) error {
	return func(e Event) error {
		level := e.Level
		if level == "" {
			level = "-"
		}
		line := fmt.Sprintf("%s  %-3s  %-15s  %-5s  %s", e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), e.Cloud, e.Function, level, oneLine(e.Message))
		if extra := fieldsText(e.Fields); extra != "" {
			line += "  " + extra
		}
		if e.Correlation != "" {
			line += "  [" + e.Correlation + "]"
		}
		_, err := fmt.Fprintln(w, line)
		return err
	}
}

// JSONWriter returns a writer of events as JSON lines.
func JSONWriter(w io.Writer) func(Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(e Event) error {
		e.Time = e.Time.UTC()
		return enc.Encode(e)
	}
}

// quietFields are left out of the text lines (JSON lines keep them): a
// Lambda invocation's request id is as long as it is rarely needed.
var quietFields = map[string]bool{"requestId": true}

// fieldsText renders fields as key=value pairs, sorted by key.
func fieldsText(fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !quietFields[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fields[k]
		var s string
		switch v := v.(type) {
		case string:
			s = v
			if strings.ContainsAny(s, " \t\"=") || s == "" {
				s = fmt.Sprintf("%q", s)
			}
		default:
			b, err := json.Marshal(v)
			if err != nil {
				s = fmt.Sprint(v)
			} else {
				s = string(b)
			}
		}
		parts = append(parts, k+"="+oneLine(s))
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}
