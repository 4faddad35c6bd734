package traceparent

import "testing"

func TestTraceID(t *testing.T) {
	tests := []struct {
		name, header, want string
		ok                 bool
	}{
		{"specification example", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"surrounding spaces", " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"a future version with more fields", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"version 00 with more fields", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "", false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", false},
		{"zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", false},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "", false},
		{"short trace id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "", false},
		{"wrong separator", "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", false},
		{"empty", "", "", false},
		{"cloud trace context", "105445aa7843bc8bf206b12000100000/1;o=1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TraceID(tt.header)
			if got != tt.want || ok != tt.ok {
				t.Errorf("TraceID(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNew(t *testing.T) {
	h, id := New()
	got, ok := TraceID(h)
	if !ok || got != id {
		t.Errorf("New() = %q, %q; TraceID of it = %q, %v", h, id, got, ok)
	}
	if h2, _ := New(); h2 == h {
		t.Errorf("New() returned %q twice", h)
	}
	if h[53:] != "01" {
		t.Errorf("New() = %q, want it sampled", h)
	}
}

func TestContinue(t *testing.T) {
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	h, id := Continue(in)
	if id != "4bf92f3577b34da6a3ce929d0e0e4736" || h[:36] != in[:36] || h[36:52] == in[36:52] || h[52:] != "-00" {
		t.Errorf("Continue(%q) = %q, %q: want the same trace and flags, a new parent id", in, h, id)
	}
	if got, ok := TraceID(h); !ok || got != id {
		t.Errorf("Continue made an invalid header %q", h)
	}
	h, id = Continue("garbage")
	if got, ok := TraceID(h); !ok || got != id || id == "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("Continue(garbage) = %q, %q: want a new trace", h, id)
	}
}
