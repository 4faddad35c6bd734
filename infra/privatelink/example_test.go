package privatelink_test

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/crossfaas/crossfaas/infra/privatelink"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// exampleMocks stands in for the Google Cloud provider with the outputs
// the link reads.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	in := args.Inputs.Mappable()
	switch args.TypeToken {
	case "gcp:serviceaccount/account:Account":
		email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", in["accountId"], in["project"])
		outs["email"] = resource.NewProperty(email)
		outs["member"] = resource.NewProperty("serviceAccount:" + email)
		outs["name"] = resource.NewProperty("projects/my-project/serviceAccounts/" + email)
		outs["uniqueId"] = resource.NewProperty("104200000000000000001")
	case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
		outs["name"] = resource.NewProperty(fmt.Sprintf("projects/123/locations/global/workloadIdentityPools/%s", in["workloadIdentityPoolId"]))
	case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
		outs["name"] = resource.NewProperty(fmt.Sprintf("projects/123/locations/global/workloadIdentityPools/%s/providers/%s", in["workloadIdentityPoolId"], in["workloadIdentityPoolProviderId"]))
	}
	return args.Name + "-id", outs, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Let the Lambda role "shop-dev-checkout", and nothing else, invoke a
// private Cloud Run service; hand the function CredentialConfig (as an
// environment variable, say) and it gets Google ID tokens for the service
// with its own AWS credentials. (Run here under mocks: no cloud account.)
func Example() {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		link, err := privatelink.New(ctx, "link", &privatelink.Args{
			Project:         "my-project",
			Prefix:          "shop-dev",
			CallerAccountID: "shop-dev-caller",
			AWSAccountID:    "123456789012",
			CallerRoleNames: []string{"shop-dev-checkout"},
			Service:         pulumi.String("projects/my-project/locations/us-central1/services/prices"),
			Location:        "us-central1",
			ServiceURL:      pulumi.String("https://prices-abc-uc.a.run.app"),
			APIs:            pulumi.ResourceArray{}, // the enabled privatelink.APIs, if the program enables them
		})
		if err != nil {
			return err
		}
		pulumi.All(link.CallerEmail, link.CredentialConfig).ApplyT(func(v []any) error {
			var cfg struct {
				Type     string `json:"type"`
				Audience string `json:"audience"`
			}
			if err := json.Unmarshal([]byte(v[1].(string)), &cfg); err != nil {
				return err
			}
			fmt.Printf("caller %s\n%s for %s\n", v[0], cfg.Type, cfg.Audience)
			return nil
		})
		return nil
	}, pulumi.WithMocks("example", "dev", exampleMocks{}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// caller shop-dev-caller@my-project.iam.gserviceaccount.com
	// external_account for //iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/shop-dev-bb6190/providers/aws-proxy
}
