// Package traceparent reads and writes the W3C Trace Context `traceparent`
// header (https://www.w3.org/TR/trace-context/), version 00:
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
//
// The proxy starts a trace for each GET /detect it forwards and sends it to
// the labeler in this header; both log the trace id (as "traceId"), so
// `crossfaas logs` shows one correlation id for the request on both clouds.
// Cloud Run reads the same header, so its request log of the labeler
// carries that trace too. It is a few functions of the standard library,
// not OpenTelemetry: the proxy's zip and cold start stay as they are.
package traceparent

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Header is the header's name.
const Header = "traceparent"

// New returns a new header value, sampled, with a random trace id and
// parent id, and its trace id.
func New() (header, traceID string) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	traceID = hex.EncodeToString(b[:16])
	return "00-" + traceID + "-" + hex.EncodeToString(b[16:]) + "-01", traceID
}

// Continue returns the header for a call made on behalf of a request that
// carried incoming: the same trace (and sampled flag) with a new parent id
// when incoming is a valid traceparent, else a new trace, as New.
func Continue(incoming string) (header, traceID string) {
	trace, ok := TraceID(incoming)
	if !ok {
		return New()
	}
	flags := strings.TrimSpace(incoming)[53:55]
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "00-" + trace + "-" + hex.EncodeToString(b[:]) + "-" + flags, trace
}

// TraceID returns the trace id of a header value, and false when the
// value is not a valid traceparent. As the specification asks, a version
// above 00 is read by its version-00 prefix, and version ff, all-zero ids
// and upper-case hex are invalid.
func TraceID(header string) (string, bool) {
	h := strings.TrimSpace(header)
	if len(h) < 55 || (len(h) > 55 && h[55] != '-') {
		return "", false
	}
	version, trace, parent, flags := h[0:2], h[3:35], h[36:52], h[53:55]
	if h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", false
	}
	if !lowerHex(version) || version == "ff" || (version == "00" && len(h) != 55) {
		return "", false
	}
	if !lowerHex(trace) || !lowerHex(parent) || !lowerHex(flags) || allZero(trace) || allZero(parent) {
		return "", false
	}
	return trace, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
