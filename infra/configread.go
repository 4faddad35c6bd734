package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// validateFunctionMemory checks a Cloud Functions memory setting: a number
// with an optional unit, from 128M to 32Gi.
func validateFunctionMemory(s string) error {
	m := memoryPattern.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("%q is not a memory size such as 256M, 512Mi or 1Gi", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a memory size: %w", s, err)
	}
	units := map[string]int64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Mi": 1 << 20, "Gi": 1 << 30}
	const lowest, highest = 128e6, 32 << 30
	unit := units[m[2]]
	if n > highest/unit || n*unit < lowest {
		return fmt.Errorf("%q is outside the range Cloud Functions allows, 128M to 32Gi (a number without a unit counts bytes)", s)
	}
	return nil
}

// configReader reads raw config values and collects an error for each bad
// one instead of stopping at the first.
type configReader struct {
	get func(key string) string
	// isSecret reports whether the stack stores key as a secret.
	isSecret func(key string) bool
	errs     []error
}

func (r *configReader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

func (r *configReader) required(key string) string {
	v := strings.TrimSpace(r.get(key))
	if v == "" {
		r.fail("%s is required: set it with `pulumi config set %s <value>`", key, key)
	}
	return v
}

func (r *configReader) str(key, def string) string {
	if v := strings.TrimSpace(r.get(key)); v != "" {
		return v
	}
	return def
}

func (r *configReader) intIn(key string, def, lo, hi int) int {
	raw := strings.TrimSpace(r.get(key))
	if raw == "" {
		return def
	}
	v, err := strconv.Atoi(raw)
	if err != nil {
		r.fail("%s %q is not a whole number", key, raw)
		return def
	}
	if v < lo || v > hi {
		r.fail("%s %d is out of range: use %d to %d", key, v, lo, hi)
	}
	return v
}

func (r *configReader) floatIn(key string, def, lo, hi float64) float64 {
	raw := strings.TrimSpace(r.get(key))
	if raw == "" {
		return def
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		r.fail("%s %q is not a number", key, raw)
		return def
	}
	if v < lo || v > hi {
		r.fail("%s %g is out of range: use %g to %g", key, v, lo, hi)
	}
	return v
}

func (r *configReader) boolean(key string, def bool) bool {
	raw := strings.TrimSpace(r.get(key))
	if raw == "" {
		return def
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		r.fail("%s %q is not true or false", key, raw)
		return def
	}
	return v
}

// secret reads a required setting that must be stored as a secret, so it
// is neither in the stack file nor in the state in plain text. Its value
// never appears in an error.
func (r *configReader) secret(key string) string {
	v := strings.TrimSpace(r.get(key))
	switch {
	case v == "":
		r.fail("%s is required: set it with `pulumi config set --secret %s <value>`", key, key)
	case !r.isSecret(key):
		r.fail("%s is stored in plain text: set it again with `pulumi config set --secret %s <value>`", key, key)
	}
	return v
}

// list reads a list of strings: a YAML list in the stack file, which the
// Pulumi CLI hands over as JSON, or a comma-separated string. Empty items
// are dropped; unset means nil.
func (r *configReader) list(key string) []string {
	raw := strings.TrimSpace(r.get(key))
	if raw == "" {
		return nil
	}
	var items []string
	if strings.HasPrefix(raw, "[") {
		var values []any
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&values); err != nil {
			r.fail("%s is not a list: %v", key, err)
			return nil
		}
		if _, err := dec.Token(); err != io.EOF {
			r.fail("%s is not a list: something follows its closing bracket", key)
			return nil
		}
		for _, v := range values {
			switch v := v.(type) {
			case string:
				items = append(items, v)
			case json.Number:
				// YAML reads an unquoted +15551234567 as a number.
				r.fail("%s: %s is a number, not a string: quote it in the stack file (\"+%s\")", key, v, v)
			default:
				r.fail("%s: %v is not a string", key, v)
			}
		}
	} else {
		items = strings.Split(raw, ",")
	}
	var out []string
	for _, item := range items {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// duration reads a Go duration ("90s", "5m") between lo and hi.
func (r *configReader) duration(key string, def, lo, hi time.Duration) time.Duration {
	raw := strings.TrimSpace(r.get(key))
	if raw == "" {
		return def
	}
	if raw == "0" {
		raw = "0s"
	}
	v, err := time.ParseDuration(raw)
	if err != nil {
		r.fail("%s %q is not a duration such as 90s or 5m", key, raw)
		return def
	}
	if v < lo || v > hi {
		r.fail("%s %v is out of range: use %v to %v", key, v, lo, hi)
	}
	return v
}

// oneOf reads a setting that must be one of values.
func (r *configReader) oneOf(key, def string, values ...string) string {
	v := r.str(key, def)
	for _, ok := range values {
		if v == ok {
			return v
		}
	}
	r.fail("%s %q is not one of %s", key, v, strings.Join(values, ", "))
	return def
}
