package httpapi

import "testing"

func TestRouteSourceArn(t *testing.T) {
	tests := []struct {
		routeKey string
		want     string
	}{
		{"GET /detect", "/*/GET/detect"},
		{"POST /sms", "/*/POST/sms"},
		{"ANY /detect", "/*/*/detect"},
		{"GET /items/{id}", "/*/GET/items/*"},
		{"DELETE /a/{b}/c/{d+}", "/*/DELETE/a/*/c/*"},
		{"GET /", "/*/GET/"},
	}
	for _, tt := range tests {
		if got := routeSourceArn(tt.routeKey); got != tt.want {
			t.Errorf("routeSourceArn(%q) = %q, want %q", tt.routeKey, got, tt.want)
		}
	}
}
