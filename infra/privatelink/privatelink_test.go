package privatelink

import (
	"regexp"
	"strings"
	"testing"
)

// validPoolID reports whether id is a workload identity pool id Google
// accepts.
func validPoolID(id string) bool {
	return regexp.MustCompile(`^[a-z0-9-]{4,32}$`).MatchString(id) && !strings.HasPrefix(id, "gcp-")
}

func TestWorkloadPoolID(t *testing.T) {
	tests := []struct {
		prefix     string
		wantPrefix string
	}{
		{"crossfaas-dev", "crossfaas-dev-"},
		{"crossfaas-a-very-long-stack-name-indeed", "crossfaas-a-very-long-sta-"},
		{"crossfaas-abcdefghijklmno-", "crossfaas-abcdefghijklmno-"},
		{"gcp-dev", "p-gcp-dev-"},
		{"ab", "ab-"},
	}
	for _, tt := range tests {
		id := workloadPoolID(tt.prefix, "112233445566778899001")
		if !validPoolID(id) || !strings.HasPrefix(id, tt.wantPrefix) || strings.Contains(id, "--") {
			t.Errorf("workloadPoolID(%q) = %q, want a valid id starting %q", tt.prefix, id, tt.wantPrefix)
		}
		if other := workloadPoolID(tt.prefix, "998877665544332211009"); other == id {
			t.Errorf("workloadPoolID(%q) is %q for two unique ids", tt.prefix, id)
		}
	}
	if validPoolID(awsProviderID) == false {
		t.Errorf("provider id %q is not valid", awsProviderID)
	}
}
