package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
)

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		op     string
		code   string
		call   func(l *ledger.Ledger) error
		wantAs any
	}{
		{
			name: "begin throttled", op: "UpdateItem", code: "ProvisionedThroughputExceededException",
			call:   func(l *ledger.Ledger) error { _, err := l.Begin(context.Background(), "k#1"); return err },
			wantAs: new(*types.ProvisionedThroughputExceededException),
		},
		{
			name: "done fails", op: "UpdateItem", code: "InternalServerError",
			call:   func(l *ledger.Ledger) error { return l.Done(context.Background(), sleuth.Claim{Key: "k#1"}, "r") },
			wantAs: new(*types.InternalServerError),
		},
		{
			name: "release fails", op: "UpdateItem", code: "RequestLimitExceeded",
			call: func(l *ledger.Ledger) error {
				return l.Release(context.Background(), sleuth.Claim{Key: "k#1", Owner: "o"})
			},
			wantAs: new(*types.RequestLimitExceeded),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, cloud, _ := setup(t)
			cloud.DynamoDB.Inject(tt.op, tt.code)
			err := tt.call(l)
			if err == nil {
				t.Fatalf("%s with %s: error = nil", tt.op, tt.code)
			}
			if errors.Is(err, sleuth.ErrInProgress) {
				t.Errorf("%s with %s: error %v wraps ErrInProgress, want a plain failure", tt.op, tt.code, err)
			}
			if !errors.As(err, tt.wantAs) {
				t.Errorf("%s with %s: error %v, want it to wrap %T", tt.op, tt.code, err, tt.wantAs)
			}
		})
	}
}

func TestUnknownTable(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	l := ledger.New(dynamodb.NewFromConfig(cloud.Config()), "no-such-table", nil)
	_, err := l.Begin(context.Background(), "SM1#addcol")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("Begin on a missing table: error = %v, want ResourceNotFoundException", err)
	}
}

func TestEmptyKey(t *testing.T) {
	l, cloud, _ := setup(t)
	ctx := context.Background()
	if _, err := l.Begin(ctx, ""); err == nil {
		t.Error(`Begin("") error = nil`)
	}
	if err := l.Done(ctx, sleuth.Claim{}, "r"); err == nil {
		t.Error(`Done("") error = nil`)
	}
	if err := l.Release(ctx, sleuth.Claim{}); err == nil {
		t.Error(`Release("") error = nil`)
	}
	if n := len(cloud.DynamoDB.Requests()); n != 0 {
		t.Errorf("empty keys made %d requests, want 0", n)
	}
}
