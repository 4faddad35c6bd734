package inspector

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	good := map[string]string{EnvLabelerURL: "https://labeler.example.com", EnvMaxBytes: "1048576", EnvLanguages: "es, fr", EnvAction: "blur"}
	cfg, err := configFrom(func(k string) string { return good[k] })
	if err != nil || cfg.MaxBytes != 1<<20 || !slices.Equal(cfg.Languages, []string{"es", "fr"}) || cfg.Action != ActionBlur {
		t.Fatalf("configFrom = %+v, %v", cfg, err)
	}
	for _, tt := range []struct{ key, value, want string }{
		{EnvLabelerURL, "", EnvLabelerURL + " is not set"},
		{EnvLabelerURL, "ftp://x", EnvLabelerURL},
		{EnvMaxBytes, "ten", EnvMaxBytes},
		{EnvMaxBytes, "-1", EnvMaxBytes},
		{EnvLanguages, "es,Spanish", EnvLanguages},
		{EnvAction, "burn", EnvAction},
		{EnvCredentialConfig, "{}", EnvCredentialConfig},
	} {
		env := maps.Clone(good)
		env[tt.key] = tt.value
		if _, err := configFrom(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: error %v, want one naming %s", tt.key, tt.value, err, tt.want)
		}
	}
}

func TestTagsFor(t *testing.T) {
	r := &Result{Verdict: VerdictUnsafe, Reason: "adult is LIKELY", Engine: "cloud-vision",
		Labels: []Label{{Description: "Dog's toy (red)"}, {Description: "Ball, rubber"}, {Description: "Toy"}, {Description: "Fourth"}}}
	existing := [][2]string{{"crossfaas:verdict", "safe"}}
	for i := range 9 {
		existing = append(existing, [2]string{"u" + string(rune('a'+i)), "v"})
	}
	got := tagsFor(r, existing)
	if len(got) != 10 {
		t.Fatalf("%d tags, want S3's maximum 10: %v", len(got), got)
	}
	if got[9] != [2]string{TagVerdict, "unsafe"} {
		t.Errorf("last tag = %v, want the verdict to replace the user's ninth", got[9])
	}
	if got := tagsFor(r, nil); got[2] != [2]string{TagLabels, "Dog s toy red / Ball rubber / Toy"} {
		t.Errorf("labels tag = %v", got[2])
	}
	if v := tagValue(strings.Repeat("é", 300)); len([]rune(v)) != 256 {
		t.Errorf("tagValue of 300 characters has %d, want 256", len([]rune(v)))
	}
}
