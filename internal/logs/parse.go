package logs

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Field names the functions log under (slog's defaults, Cloud Logging's
// structured-logging names) that become an Event's own fields.
var (
	levelKeys   = []string{"level", "severity"}
	messageKeys = []string{"msg", "message"}
	// correlationKeys name a MessageSid (the sleuth functions log "sid")
	// or a W3C trace id (the proxy and the labeler log "traceId"; Cloud
	// Logging's trace is "projects/<p>/traces/<id>").
	correlationKeys = []string{"sid", "messageSid", "MessageSid", "traceId", "trace", "logging.googleapis.com/trace"}
	timeKeys        = []string{"time", "timestamp"}
)

// applyLine fills e's level, message, correlation and fields from one
// logged line: a JSON object as the functions and Lambda's JSON log format
// write, or plain text.
func applyLine(e *Event, line string) {
	line = strings.TrimRight(line, "\r\n")
	var m map[string]any
	trimmed := strings.TrimSpace(line)
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &m) != nil {
		e.Message = line
		return
	}
	applyFields(e, m)
}

// applyFields fills e from a structured log line's fields.
func applyFields(e *Event, m map[string]any) {
	// The service's timestamp stays the event's time: it is what queries
	// and the merge order go by.
	take(m, timeKeys)
	if typ, ok := m["type"].(string); ok && strings.HasPrefix(typ, "platform.") {
		// A Lambda platform event: {"time","type":"platform.report","record":{...}}.
		delete(m, "type")
		e.Level = "INFO"
		e.Message = typ
		if rec, ok := m["record"].(map[string]any); ok {
			delete(m, "record")
			for k, v := range rec {
				m[k] = v
			}
		}
	}
	if lv, ok := take(m, levelKeys).(string); ok && lv != "" {
		e.Level = strings.ToUpper(lv)
	}
	if msg := take(m, messageKeys); msg != nil {
		e.Message = fmt.Sprint(msg)
	}
	if c, ok := take(m, correlationKeys).(string); ok && c != "" && e.Correlation == "" {
		e.Correlation = traceID(c)
	}
	if len(m) > 0 {
		e.Fields = m
	}
}

// take removes every key of keys from m and returns the first one's value
// found.
func take(m map[string]any, keys []string) any {
	var found any
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if found == nil {
				found = v
			}
			delete(m, k)
		}
	}
	return found
}

// traceID returns the trace id of Cloud Logging's
// "projects/<p>/traces/<id>", and other correlation ids as they are.
func traceID(s string) string {
	if i := strings.LastIndex(s, "/traces/"); i >= 0 {
		return s[i+len("/traces/"):]
	}
	return s
}
