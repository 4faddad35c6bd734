// Package ledger implements sleuth.Ledger on a DynamoDB table, so the
// at-least-once deliveries of SNS and Lambda's async retries act once.
//
// Each step is one item keyed by "pk" = "<MessageSid>#<step>":
//
//	{pk, status: "pending", leaseUntil, expiresAt}   while a delivery works on it
//	{pk, status: "done", expiresAt}                   once its side effect happened
//
// A claim is a conditional PutItem that succeeds when the item is absent or
// its pending lease has run out, so a delivery that crashed mid-step doesn't
// block the step forever. expiresAt (epoch seconds) is the table's TTL
// attribute: DynamoDB deletes items some time after it, long after SNS and
// Lambda stop redelivering.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// API is the part of the DynamoDB client the Ledger uses; *dynamodb.Client
// implements it.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

const (
	// DefaultLease is how long a claim holds before another delivery may
	// take the step over. It must exceed the Lambda timeout of the
	// functions that use the ledger, or two live deliveries could both run
	// the step.
	DefaultLease = 2 * time.Minute
	// DefaultRetention is how long an item lives (its TTL): far longer than
	// SNS retries (about an hour for Lambda endpoints) plus Lambda's async
	// retries and event age (up to 6 hours).
	DefaultRetention = 7 * 24 * time.Hour
)

// Attribute names and status values of the table.
const (
	attrKey        = "pk"
	attrStatus     = "status" // a DynamoDB reserved word: always through #s
	attrLeaseUntil = "leaseUntil"
	attrExpiresAt  = "expiresAt"

	statusPending = "pending"
	statusDone    = "done"
)

// Ledger is a sleuth.Ledger on one DynamoDB table (partition key "pk",
// string; TTL attribute "expiresAt"). It is safe for concurrent use.
type Ledger struct {
	api   API
	table string
	now   func() time.Time

	// Lease and Retention default to DefaultLease and DefaultRetention;
	// change them before first use.
	Lease     time.Duration
	Retention time.Duration
}

var _ sleuth.Ledger = (*Ledger)(nil)

// New returns a Ledger on table. now is the clock (nil means time.Now).
func New(api API, table string, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{api: api, table: table, now: now, Lease: DefaultLease, Retention: DefaultRetention}
}

// Begin claims key. It returns proceed=true when the caller now holds the
// step, proceed=false (and no error) when the step is already done, and an
// error wrapping sleuth.ErrInProgress while another delivery holds a live
// claim. Other errors (throttling, network) leave nothing claimed.
func (l *Ledger) Begin(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, errors.New("ledger: begin: empty key")
	}
	// A claim released between our PutItem and GetItem leaves no item to
	// explain the failed condition; claim once more before giving up.
	for range 2 {
		now := l.now()
		_, err := l.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(l.table),
			Item: map[string]types.AttributeValue{
				attrKey:        str(key),
				attrStatus:     str(statusPending),
				attrLeaseUntil: num(now.Add(l.Lease).Unix()),
				attrExpiresAt:  num(now.Add(l.Retention).Unix()),
			},
			ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#s = :pending AND leaseUntil < :now)"),
			ExpressionAttributeNames: map[string]string{"#s": attrStatus},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pending": str(statusPending),
				":now":     num(now.Unix()),
			},
		})
		if err == nil {
			return true, nil
		}
		if !conditionFailed(err) {
			return false, fmt.Errorf("ledger: claim %s: %w", key, err)
		}
		out, err := l.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(l.table),
			Key:                      map[string]types.AttributeValue{attrKey: str(key)},
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#s, leaseUntil"),
			ExpressionAttributeNames: map[string]string{"#s": attrStatus},
		})
		if err != nil {
			return false, fmt.Errorf("ledger: read %s: %w", key, err)
		}
		if out.Item == nil {
			continue
		}
		switch status := stringAttr(out.Item, attrStatus); status {
		case statusDone:
			return false, nil
		case statusPending:
			return false, fmt.Errorf("ledger: %s claimed until %s: %w",
				key, time.Unix(numberAttr(out.Item, attrLeaseUntil), 0).UTC().Format(time.RFC3339), sleuth.ErrInProgress)
		default:
			return false, fmt.Errorf("ledger: %s has unknown status %q", key, status)
		}
	}
	return false, fmt.Errorf("ledger: claim %s: contended: %w", key, sleuth.ErrInProgress)
}

// Done records that the step of key happened; later Begins return
// proceed=false. It is unconditional: once the side effect happened, the
// step is done whoever held the claim.
func (l *Ledger) Done(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("ledger: done: empty key")
	}
	_, err := l.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      map[string]types.AttributeValue{attrKey: str(key)},
		UpdateExpression:         aws.String("SET #s = :done, expiresAt = :expires REMOVE leaseUntil"),
		ExpressionAttributeNames: map[string]string{"#s": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done":    str(statusDone),
			":expires": num(l.now().Add(l.Retention).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("ledger: done %s: %w", key, err)
	}
	return nil
}

// Release drops a pending claim so a retry can run the step. A step already
// done, or a key never claimed, is left as it is and is not an error.
func (l *Ledger) Release(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("ledger: release: empty key")
	}
	_, err := l.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(l.table),
		Key:                       map[string]types.AttributeValue{attrKey: str(key)},
		ConditionExpression:       aws.String("#s = :pending"),
		ExpressionAttributeNames:  map[string]string{"#s": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pending": str(statusPending)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("ledger: release %s: %w", key, err)
	}
	return nil
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func numberAttr(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}
