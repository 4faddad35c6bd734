// Package testprovider is a stand-in for the pulumi-aws and pulumi-gcp
// resource provider plugins, for tests that run crossfaas's Pulumi program
// on the real engine without a cloud. Its command (cmd/) is built by the
// tests as binaries named pulumi-resource-aws and pulumi-resource-gcp and
// put on PATH, where the engine prefers them to downloading the real
// plugins.
//
// It speaks the real provider gRPC protocol (GetPluginInfo, CheckConfig,
// DiffConfig, Configure, Check, Diff, Create, Read, Update, Delete, Invoke)
// and answers like the real providers would for the resource types and
// data sources the program uses: a resource's outputs are its inputs plus
// the computed outputs the program reads (ids, ARNs, invoke and execution
// ARNs, URLs, e-mails), in the real providers' formats. Diff reports a
// change exactly when the inputs differ (assets and archives compare by
// content hash, as the engine does) and asks for a replacement when a
// property the real provider cannot update in place changed.
//
// What it does not model: any cloud behaviour behind the API (nothing is
// deployed, no name is checked for uniqueness, no IAM is evaluated),
// defaults the real providers add to inputs, refresh drift (Read returns
// the recorded state), resource types and data sources the program does
// not use (they fail with an error naming the type), partial failures and
// retries, and the real providers' schemas (GetSchema is not served).
//
// Every call is appended, as one JSON object per line, to the file named
// by the CROSSFAAS_TESTPROVIDER_RECORD environment variable (when set), so
// tests can assert which resources the engine created, updated, replaced
// or deleted. Property values are never recorded: they may be secrets.
package testprovider

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Versions the stand-ins report: those of the SDKs in go.mod, which the
// program's resources ask the engine for.
const (
	AWSVersion = "6.83.4"
	GCPVersion = "7.38.0"
)

// Provider is one stand-in provider plugin: package "aws" or "gcp".
type Provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	pkg     string
	version string
	rec     *Recorder
	env     Env

	mu     sync.Mutex
	config map[string]string // from Configure, e.g. "aws:region"
}

// New returns the provider for package pkg ("aws" or "gcp"), recording its
// calls to rec (nil records nothing) and computing outputs with env.
func New(pkg string, rec *Recorder, env Env) (*Provider, error) {
	var version string
	switch pkg {
	case "aws":
		version = AWSVersion
	case "gcp":
		version = GCPVersion
	default:
		return nil, fmt.Errorf("new test provider: no stand-in for package %q (want aws or gcp)", pkg)
	}
	return &Provider{pkg: pkg, version: version, rec: rec, env: env, config: map[string]string{}}, nil
}

// marshalling keeps secrets, unknowns and resource references as they are
// and compares assets and archives by hash, as the engine's own providers
// do.
var marshalling = plugin.MarshalOptions{
	KeepUnknowns:       true,
	KeepSecrets:        true,
	KeepResources:      true,
	ComputeAssetHashes: true,
	SkipInternalKeys:   false,
}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshalling)
}

func marshal(pm resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(pm, marshalling)
}

// GetPluginInfo reports the version of the real provider this one stands
// in for.
func (p *Provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

// CheckConfig accepts the provider configuration as given.
func (p *Provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	p.rec.Record(Call{Package: p.pkg, Method: "CheckConfig", URN: req.GetUrn()})
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig reports a change when the provider configuration changed.
func (p *Provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	resp, changed, err := diff(req.GetOldInputs(), req.GetNews(), nil)
	if err != nil {
		return nil, fmt.Errorf("diff config: %w", err)
	}
	p.rec.Record(Call{Package: p.pkg, Method: "DiffConfig", URN: req.GetUrn(), Changed: changed})
	return resp, nil
}

// Configure keeps the configuration (the region and project the computed
// outputs use) and accepts secrets and resource references.
func (p *Provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, fmt.Errorf("configure: %w", err)
	}
	p.mu.Lock()
	for k, v := range args {
		if v.IsString() {
			p.config[p.pkg+":"+string(k)] = v.StringValue()
		}
	}
	p.mu.Unlock()
	p.rec.Record(Call{Package: p.pkg, Method: "Configure"})
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

// Check accepts the inputs as given: the real providers' defaults are not
// modelled.
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, ok := outputRules[req.GetType()]; !ok {
		return nil, fmt.Errorf("check %s: the test provider does not model resource type %s", req.GetUrn(), req.GetType())
	}
	p.rec.Record(Call{Package: p.pkg, Method: "Check", Type: req.GetType(), Name: req.GetName(), URN: req.GetUrn()})
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// Diff compares the old inputs with the new ones.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	resp, changed, err := diff(req.GetOldInputs(), req.GetNews(), forceNew[req.GetType()])
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", req.GetUrn(), err)
	}
	p.rec.Record(Call{Package: p.pkg, Method: "Diff", Type: req.GetType(), Name: req.GetName(), URN: req.GetUrn(), ID: req.GetId(),
		Changed: changed, Replaces: resp.GetReplaces()})
	return resp, nil
}

// diff compares two input maps; a changed key listed in replaceKeys makes
// the change a replacement.
func diff(oldStruct, newStruct *structpb.Struct, replaceKeys []string) (*pulumirpc.DiffResponse, []string, error) {
	olds, err := unmarshal(oldStruct)
	if err != nil {
		return nil, nil, err
	}
	news, err := unmarshal(newStruct)
	if err != nil {
		return nil, nil, err
	}
	d := olds.Diff(news) // an unknown new value counts as a change
	if d == nil || !d.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil, nil
	}
	var changed, replaces []string
	for _, k := range d.Keys() {
		if !d.Changed(k) {
			continue
		}
		changed = append(changed, string(k))
		if slices.Contains(replaceKeys, string(k)) {
			replaces = append(replaces, string(k))
		}
	}
	sort.Strings(changed)
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, Replaces: replaces}, changed, nil
}

// Create "creates" the resource: its id and outputs are computed from its
// inputs. Previews get no call (the provider does not support preview), so
// the inputs are known here.
func (p *Provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	ins, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", req.GetUrn(), err)
	}
	id, outs, err := p.outputs(req.GetType(), req.GetUrn(), ins)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", req.GetUrn(), err)
	}
	props, err := marshal(outs)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", req.GetUrn(), err)
	}
	p.rec.Record(Call{Package: p.pkg, Method: "Create", Type: req.GetType(), Name: req.GetName(), URN: req.GetUrn(), ID: id})
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Update recomputes the outputs from the new inputs; the id stays.
func (p *Provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", req.GetUrn(), err)
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", req.GetUrn(), err)
	}
	_, outs, err := p.outputs(req.GetType(), req.GetUrn(), news)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", req.GetUrn(), err)
	}
	// Computed outputs that do not follow from the inputs (an API's id, a
	// generated statement id) keep their old values, as in the cloud.
	for k, v := range olds {
		if _, isInput := news[k]; !isInput {
			if _, computed := outs[k]; computed && stableOutputs[req.GetType()][string(k)] {
				outs[k] = v
			}
		}
	}
	props, err := marshal(outs)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", req.GetUrn(), err)
	}
	p.rec.Record(Call{Package: p.pkg, Method: "Update", Type: req.GetType(), Name: req.GetName(), URN: req.GetUrn(), ID: req.GetId()})
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Read returns the recorded state: refresh finds no drift.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	p.rec.Record(Call{Package: p.pkg, Method: "Read", Type: req.GetType(), Name: req.GetName(), URN: req.GetUrn(), ID: req.GetId()})
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Delete "deletes" the resource.
func (p *Provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	p.rec.Record(Call{Package: p.pkg, Method: "Delete", Type: req.GetType(), Name: req.GetName(), URN: req.GetUrn(), ID: req.GetId()})
	return &emptypb.Empty{}, nil
}

// Invoke answers the data sources the program calls.
func (p *Provider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", req.GetTok(), err)
	}
	outs, err := p.invoke(req.GetTok(), args)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", req.GetTok(), err)
	}
	ret, err := marshal(outs)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", req.GetTok(), err)
	}
	p.rec.Record(Call{Package: p.pkg, Method: "Invoke", Token: req.GetTok()})
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

// Cancel has nothing to cancel: every call returns at once.
func (p *Provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// setting returns a provider setting such as "aws:region" or fallback.
func (p *Provider) setting(key, fallback string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.config[key]; v != "" {
		return v
	}
	return fallback
}
