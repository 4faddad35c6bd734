package deployed

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/gobuild"
)

// TestStatusOfAnEmptyStack: a stack with nothing deployed says so, and
// what deploys it, whether it never was or was destroyed.
func TestStatusOfAnEmptyStack(t *testing.T) {
	built := []gobuild.Artifact{{Name: "proxy", SHA256: digest("a")}}
	for _, tt := range []struct {
		name string
		last *Update
		want string
	}{
		{"never deployed", nil, "Stack prod has never been deployed: `pulumi up --stack prod` deploys this tree to it"},
		{"destroyed", &Update{Kind: "destroy", Result: "succeeded", Start: time.Now()}, "Stack prod has nothing deployed: `pulumi up --stack prod`"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &Stack{Name: "prod", Prefix: "crossfaas-prod", State: &State{}, Outputs: map[string]any{}}
			s := Compare(st, built)
			s.LastUpdate = tt.last
			if s.Deployed || s.UpToDate() {
				t.Errorf("status of an empty stack: deployed %v, up to date %v, want neither", s.Deployed, s.UpToDate())
			}
			var out bytes.Buffer
			if err := s.Write(&out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) || !strings.Contains(out.String(), "proxy") || !strings.Contains(out.String(), NotDeployed) {
				t.Errorf("status text = %q, want %q and the proxy not deployed", &out, tt.want)
			}
		})
	}
	full := &Stack{Name: "dev", Prefix: "crossfaas-dev", State: fixtureState(t)}
	if s := Compare(full, built); !s.Deployed {
		t.Errorf("status of a deployed stack: Deployed = false")
	}
}
