package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/infra/privatelink"
)

// publicMembers are the IAM members that open a resource to anyone.
var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// allStrings returns every string inside v (maps, lists and values), for
// scanning inputs whatever their shape.
func allStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, allStrings(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, allStrings(e)...)
		}
		return out
	}
	return nil
}

// evalCondition evaluates an attribute condition of the one form the stack
// writes, assertion.arn.startsWith('<prefix>') joined by " || ", for a
// caller's ARN; any other form fails the test.
func evalCondition(t *testing.T, condition, arn string) bool {
	t.Helper()
	admitted := false
	for _, part := range strings.Split(condition, " || ") {
		m := regexp.MustCompile(`^assertion\.arn\.startsWith\('([^'\\]+)'\)$`).FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("attribute condition %q is not of the form assertion.arn.startsWith('<prefix>') [|| ...]", condition)
		}
		admitted = admitted || strings.HasPrefix(arn, m[1])
	}
	return admitted
}

func TestPrivateLinkByDefault(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	m := run.mocks
	proxyRole := m.named(t, typeRole, "proxy-role").Inputs["name"].(string)
	inspectorRole := "crossfaas-dev-uploads-inspector"
	caller := m.named(t, typeAccount, "private-link-caller")
	callerEmail := caller.Outputs["email"].(string)
	pool := m.one(t, typePool)
	provider := m.one(t, typeProvider)
	fn := m.one(t, typeFunction)

	t.Run("no public member anywhere", func(t *testing.T) {
		for _, r := range m.snapshot() {
			for _, s := range allStrings(r.Inputs) {
				for _, public := range publicMembers {
					if strings.Contains(s, public) {
						t.Errorf("%s %s has the input %q, naming %s", r.Type, r.Name, s, public)
					}
				}
			}
		}
	})

	t.Run("only the caller account may invoke the labeler", func(t *testing.T) {
		invoker := m.one(t, typeRunInvoker)
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"service", invoker.Inputs["name"], get(fn.Outputs, "serviceConfig.service")},
			{"location", invoker.Inputs["location"], "us-central1"},
			{"role", invoker.Inputs["role"], "roles/run.invoker"},
			{"member", invoker.Inputs["member"], "serviceAccount:" + callerEmail},
		} {
			if c.got != c.want {
				t.Errorf("run invoker %s = %v, want %v", c.what, c.got, c.want)
			}
		}
		if got := caller.Inputs["accountId"]; got != "crossfaas-dev-caller" {
			t.Errorf("caller account id = %v, want crossfaas-dev-caller", got)
		}
	})

	t.Run("the provider admits only the proxy and inspector roles", func(t *testing.T) {
		if got := get(provider.Inputs, "aws.accountId"); got != mockAccount {
			t.Errorf("provider AWS account = %v, want %s (aws.GetCallerIdentity)", got, mockAccount)
		}
		if provider.Inputs["workloadIdentityPoolId"] != pool.Inputs["workloadIdentityPoolId"] {
			t.Errorf("provider pool = %v, want %v", provider.Inputs["workloadIdentityPoolId"], pool.Inputs["workloadIdentityPoolId"])
		}
		condition, _ := provider.Inputs["attributeCondition"].(string)
		roleARN := "arn:aws:sts::" + mockAccount + ":assumed-role/" + proxyRole
		inspectorARN := "arn:aws:sts::" + mockAccount + ":assumed-role/" + inspectorRole
		for _, c := range []struct {
			arn  string
			want bool
		}{
			{roleARN + "/" + proxyRole, true},
			{roleARN + "/another-session", true},
			{inspectorARN + "/" + inspectorRole, true},
			{inspectorARN + "x/" + inspectorRole, false},
			{"arn:aws:sts::" + mockAccount + ":assumed-role/crossfaas-dev-uploads-admin/s", false},
			{"arn:aws:sts::210987654321:assumed-role/" + inspectorRole + "/s", false},
			{roleARN + "2/" + proxyRole + "2", false},
			{"arn:aws:sts::" + mockAccount + ":assumed-role/crossfaas-dev-sleuth-match/s", false},
			{"arn:aws:sts::210987654321:assumed-role/" + proxyRole + "/" + proxyRole, false},
			{"arn:aws:iam::" + mockAccount + ":user/deployer", false},
			{roleARN, false},
		} {
			if got := evalCondition(t, condition, c.arn); got != c.want {
				t.Errorf("condition %q admits %s: %v, want %v", condition, c.arn, got, c.want)
			}
		}
		mapping, _ := provider.Inputs["attributeMapping"].(map[string]any)
		if mapping["google.subject"] != "assertion.arn" || mapping["attribute.aws_role"] != privatelink.AWSRoleMapping {
			t.Errorf("attribute mapping = %v, want google.subject and Google's attribute.aws_role", mapping)
		}
	})

	t.Run("only the proxy's and the inspector's principal sets may impersonate the caller", func(t *testing.T) {
		bindings := m.all(typeAccountIAMMember)
		if len(bindings) != 2 {
			t.Fatalf("%d workload identity user bindings, want 2 (proxy, inspector)", len(bindings))
		}
		// The proxy's keeps its name from before the inspector existed.
		names := map[string]string{
			proxyRole:     "private-link-workload-identity-user",
			inspectorRole: "private-link-workload-identity-user-" + inspectorRole,
		}
		for _, role := range []string{proxyRole, inspectorRole} {
			binding := m.named(t, typeAccountIAMMember, names[role])
			want := "principalSet://iam.googleapis.com/projects/" + mockProjectNumber + "/locations/global/workloadIdentityPools/" +
				pool.Inputs["workloadIdentityPoolId"].(string) + "/attribute.aws_role/arn:aws:sts::" + mockAccount + ":assumed-role/" + role
			for _, c := range []struct {
				what      string
				got, want any
			}{
				{"service account", binding.Inputs["serviceAccountId"], caller.Outputs["name"]},
				{"role", binding.Inputs["role"], "roles/iam.workloadIdentityUser"},
				{"member", binding.Inputs["member"], want},
			} {
				if c.got != c.want {
					t.Errorf("workload identity user of %s: %s = %v, want %v", role, c.what, c.got, c.want)
				}
			}
		}
		if inspector := m.named(t, typeRole, "uploads-inspector-role").Inputs["name"]; inspector != inspectorRole {
			t.Errorf("the inspector's role is %v, want the admitted %s", inspector, inspectorRole)
		}
	})

	t.Run("the proxy's credential configuration holds no secret", func(t *testing.T) {
		raw, _ := get(m.named(t, typeLambda, "proxy-function").Inputs, "environment.variables.LABELER_CREDENTIAL_CONFIG").(string)
		cfg, err := federation.ParseCredentialConfig([]byte(raw))
		if err != nil {
			t.Fatalf("LABELER_CREDENTIAL_CONFIG: %v\n%s", err, raw)
		}
		if want := "//iam.googleapis.com/" + provider.Outputs["name"].(string); cfg.Audience != want {
			t.Errorf("audience = %q, want %q", cfg.Audience, want)
		}
		if sa, _ := cfg.ServiceAccount(); sa != callerEmail {
			t.Errorf("impersonated account = %q, want the caller %q", sa, callerEmail)
		}
		if string(cfg.JSON()) != raw {
			t.Errorf("LABELER_CREDENTIAL_CONFIG has fields beyond gcloud's format:\n%s", raw)
		}
		for _, secretish := range []string{"private_key", "private_key_id", "client_secret", "refresh_token", "access_token"} {
			if strings.Contains(raw, secretish) {
				t.Errorf("LABELER_CREDENTIAL_CONFIG holds %s", secretish)
			}
		}
		for _, sentinel := range []string{testAuthToken, testAccountSID} {
			if strings.Contains(raw, sentinel) {
				t.Error("LABELER_CREDENTIAL_CONFIG holds a Twilio credential")
			}
		}
	})

	t.Run("sts and iam credentials are enabled", func(t *testing.T) {
		var enabled []string
		for _, s := range m.all(typeAPIService) {
			enabled = append(enabled, s.Inputs["service"].(string))
		}
		for _, api := range privatelink.APIs {
			if !slices.Contains(enabled, api) {
				t.Errorf("enabled APIs %v lack %s", enabled, api)
			}
		}
	})

	t.Run("the labeler url is published after the bindings", func(t *testing.T) {
		if got := run.outputs["labelerUrl"]; got != fn.Outputs["url"] {
			t.Errorf("output labelerUrl = %v, want %v", got, fn.Outputs["url"])
		}
		if got := get(m.named(t, typeLambda, "proxy-function").Inputs, "environment.variables.LABELER_URL"); got != fn.Outputs["url"] {
			t.Errorf("LABELER_URL = %v, want %v", got, fn.Outputs["url"])
		}
		lambda := m.named(t, typeLambda, "proxy-function")
		for _, dep := range []string{"private-link-invoker", "private-link-workload-identity-user"} {
			if !lambda.dependsOn(dep) {
				t.Errorf("the proxy Lambda does not depend on %s: %v", dep, lambda.Dependencies)
			}
		}
	})
}

func TestPoolIDSurvivesDestroyAndUp(t *testing.T) {
	runAt := func(generation int) string {
		m := &mocks{awsRegion: "us-east-1", gcpProject: "test-project-123", generation: generation}
		if _, err := runStackWith(t, m, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p"))); err != nil {
			t.Fatal(err)
		}
		return m.one(t, typePool).Inputs["workloadIdentityPoolId"].(string)
	}
	first, update, again := runAt(1), runAt(1), runAt(2)
	if first != update {
		t.Errorf("pool id changed from %s to %s between two ups of the same stack", first, update)
	}
	if first == again {
		t.Errorf("pool id %s is the same after destroy and up: Google keeps a deleted id for 30 days", first)
	}
	for _, id := range []string{first, again} {
		if !validPoolID(id) || !strings.HasPrefix(id, "crossfaas-dev-") {
			t.Errorf("pool id %q is not a valid id starting crossfaas-dev-", id)
		}
	}
}

// validPoolID is Google's rule for pool and provider ids.
func validPoolID(id string) bool {
	return regexp.MustCompile(`^[a-z0-9-]{4,32}$`).MatchString(id) && !strings.HasPrefix(id, "gcp-")
}

func TestLabelerBuildAccountHasOnlyItsRoles(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	builder := run.mocks.named(t, typeAccount, "labeler-build")
	member := builder.Outputs["member"]
	var roles []string
	for _, b := range run.mocks.all(typeProjectIAMMember) {
		if b.Inputs["member"] != member {
			t.Errorf("project binding %s grants %v to %v, want only the build account's", b.Name, b.Inputs["role"], b.Inputs["member"])
			continue
		}
		if b.Inputs["project"] != "test-project-123" {
			t.Errorf("project binding %s is on %v", b.Name, b.Inputs["project"])
		}
		roles = append(roles, b.Inputs["role"].(string))
	}
	slices.Sort(roles)
	if want := []string{"roles/artifactregistry.writer", "roles/logging.logWriter", "roles/storage.objectViewer"}; !slices.Equal(roles, want) {
		t.Errorf("build account roles = %v, want %v", roles, want)
	}
	fn := run.mocks.one(t, typeFunction)
	for _, b := range run.mocks.all(typeProjectIAMMember) {
		if !fn.dependsOn(b.Name) {
			t.Errorf("the function does not wait for %s: its build would start without the role", b.Name)
		}
	}
	if run.mocks.named(t, typeAccount, "labeler-runtime").Outputs["member"] == member {
		t.Error("the build and runtime accounts are the same")
	}
}

// In another partition every ARN the private link writes, and the AWS STS
// endpoint of the subject tokens, are that partition's.
func TestPrivateLinkHonoursThePartition(t *testing.T) {
	for _, tt := range []struct{ partition, stsHost string }{
		{"aws-us-gov", "sts.{region}.amazonaws.com"},
		{"aws-cn", "sts.{region}.amazonaws.com.cn"},
	} {
		t.Run(tt.partition, func(t *testing.T) {
			m := &mocks{awsRegion: "us-east-1", gcpProject: "test-project-123", awsPartition: tt.partition}
			if _, err := runStackWith(t, m, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p"))); err != nil {
				t.Fatal(err)
			}
			prefix := "arn:" + tt.partition + ":sts::" + mockAccount + ":assumed-role/"
			proxyRole := m.named(t, typeRole, "proxy-role").Inputs["name"].(string)
			condition, _ := m.one(t, typeProvider).Inputs["attributeCondition"].(string)
			if !evalCondition(t, condition, prefix+proxyRole+"/s") || evalCondition(t, condition, "arn:aws:sts::"+mockAccount+":assumed-role/"+proxyRole+"/s") {
				t.Errorf("condition %q, want it to admit %s sessions only", condition, prefix+proxyRole)
			}
			for _, b := range m.all(typeAccountIAMMember) {
				if member, _ := b.Inputs["member"].(string); !strings.Contains(member, "/attribute.aws_role/"+prefix) {
					t.Errorf("workload identity user %s = %q, want a principal set of %s roles", b.Name, member, tt.partition)
				}
			}
			raw, _ := get(m.named(t, typeLambda, "proxy-function").Inputs, "environment.variables.LABELER_CREDENTIAL_CONFIG").(string)
			cfg, err := federation.ParseCredentialConfig([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if want := "https://" + tt.stsHost + "?Action=GetCallerIdentity&Version=2011-06-15"; cfg.CredentialSource.RegionalCredVerificationURL != want {
				t.Errorf("regional_cred_verification_url = %q, want %q", cfg.CredentialSource.RegionalCredVerificationURL, want)
			}
			// The one other ARN the program writes itself (the mocks make
			// the resources' own ARNs).
			trust, _ := m.named(t, typeRole, "uploads-admin").Inputs["assumeRolePolicy"].(string)
			if want := `"arn:` + tt.partition + `:iam::` + mockAccount + `:root"`; !strings.Contains(trust, want) {
				t.Errorf("the uploads admin role trusts %s, want %s", trust, want)
			}
		})
	}
	if _, err := privatelink.AWSPartitionOf("not-an-arn"); err == nil {
		t.Error("privatelink.AWSPartitionOf(not-an-arn) succeeded")
	}
}
