package trace

import (
	"context"
	"testing"
)

func TestMessageSid(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none", context.Background(), ""},
		{"set", WithMessageSid(context.Background(), "SM1"), "SM1"},
		{"empty keeps the outer one", WithMessageSid(WithMessageSid(context.Background(), "SM1"), ""), "SM1"},
		{"inner wins", WithMessageSid(WithMessageSid(context.Background(), "SM1"), "SM2"), "SM2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MessageSid(tt.ctx); got != tt.want {
				t.Errorf("MessageSid(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestProblem(t *testing.T) {
	if Problem(context.Background()) {
		t.Errorf("Problem(background) = true, want false")
	}
	if !Problem(WithMessageSid(WithProblem(context.Background()), "SM1")) {
		t.Errorf("Problem(WithProblem(...)) = false, want true")
	}
}
