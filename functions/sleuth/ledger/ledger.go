// Package ledger implements sleuth.Ledger on a DynamoDB table, so the
// at-least-once deliveries of SNS and Lambda's async retries act once.
//
// Each step is one item keyed by "pk" = "<MessageSid>#<step>":
//
//	{pk, status: "pending", owner, leaseUntilMs, attempt?, expiresAt}   while an attempt works on it
//	{pk, status: "done", result, attempt?, expiresAt}                    once it happened
//
// A claim is a conditional UpdateItem that succeeds when the item is
// absent, its pending lease has run out, or it already holds the caller's
// owner token: a claim whose response was lost and that the SDK sends
// again finds its own write instead of a stranger's, and an attempt that
// died mid-step blocks the step only until its lease ends, shortly after
// the dead invocation's deadline. Taking a claim over keeps the attempt
// marker of the one before, so the new holder knows to reconcile.
//
// Things a step created and adopted (Adopt) are items of their own, keyed
// by "<thing>" with the step's key in "step".
//
// expiresAt (epoch seconds) is the table's TTL attribute: DynamoDB deletes
// items some time after it, long after SNS and Lambda stop redelivering.
//
// Every call is safe for the SDK to send again: the owner token makes
// Begin, Attempt and Release find their own write, Done and Adopt write
// the same values. So the DynamoDB client keeps its standard retries.
package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
}

const (
	// DefaultLease is how long a claim holds when the caller's context has
	// no deadline (tests, tools): the workers' default timeout. Lambda
	// invocations always have one, and their claims end LeaseMargin after
	// it.
	DefaultLease = 60 * time.Second
	// DefaultRetention is how long an item lives (its TTL): far longer than
	// SNS retries (about an hour for Lambda endpoints) plus Lambda's async
	// retries and event age (up to 6 hours).
	DefaultRetention = 7 * 24 * time.Hour
)

// Attribute names and status values of the table. Status, owner, result
// and step are DynamoDB reserved words: always through placeholders.
const (
	attrKey        = "pk"
	attrStatus     = "status"
	attrOwner      = "owner"
	attrLeaseUntil = "leaseUntilMs"
	attrAttempt    = "attempt"
	attrResult     = "result"
	attrStep       = "step"
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

// NewOwner returns a random owner token.
func NewOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b[:])
}

// leaseEnd is when a claim taken now for ctx lapses.
func (l *Ledger) leaseEnd(ctx context.Context, now time.Time) time.Time {
	return LeaseEnd(ctx, now, l.Lease)
}

// LeaseEnd is when a claim taken at now (on the ledger's clock) by an
// attempt running under ctx lapses: LeaseMargin after ctx's deadline, or
// after now+lease when ctx has none.
func LeaseEnd(ctx context.Context, now time.Time, lease time.Duration) time.Time {
	if deadline, ok := ctx.Deadline(); ok {
		lease = time.Until(deadline)
	}
	return now.Add(lease + sleuth.LeaseMargin)
}

// Begin claims key for a new owner; see sleuth.Ledger.
func (l *Ledger) Begin(ctx context.Context, key string) (sleuth.Claim, error) {
	if key == "" {
		return sleuth.Claim{}, errors.New("ledger: begin: empty key")
	}
	now := l.now()
	c := sleuth.Claim{Key: key, Owner: NewOwner(), Until: l.leaseEnd(ctx, now)}
	out, err := l.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      map[string]types.AttributeValue{attrKey: str(key)},
		UpdateExpression:         aws.String("SET #s = :pending, #o = :owner, leaseUntilMs = :until, expiresAt = :expires"),
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#s = :pending AND (#o = :owner OR leaseUntilMs < :now OR attribute_not_exists(leaseUntilMs)))"),
		ExpressionAttributeNames: map[string]string{"#s": attrStatus, "#o": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending": str(statusPending),
			":owner":   str(c.Owner),
			":until":   num(c.Until.UnixMilli()),
			":expires": num(now.Add(l.Retention).Unix()),
			":now":     num(now.UnixMilli()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		c.Attempt = stringAttr(out.Attributes, attrAttempt)
		return c, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return sleuth.Claim{}, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	item := ccf.Item
	if item == nil { // a table or SDK that doesn't return the item: read it
		if item, err = l.get(ctx, key); err != nil {
			return sleuth.Claim{}, err
		}
	}
	switch status := stringAttr(item, attrStatus); status {
	case statusDone:
		return sleuth.Claim{Key: key, Done: true, Result: stringAttr(item, attrResult), Attempt: stringAttr(item, attrAttempt)}, nil
	case statusPending:
		until := time.UnixMilli(numberAttr(item, attrLeaseUntil)).UTC()
		return sleuth.Claim{}, fmt.Errorf("ledger: %s claimed until %s: %w", key, until.Format(time.RFC3339Nano), sleuth.ErrInProgress)
	case "":
		// Released and gone between the write and the read: the step is
		// free, but another attempt is racing for it.
		return sleuth.Claim{}, fmt.Errorf("ledger: claim %s: contended: %w", key, sleuth.ErrInProgress)
	default:
		return sleuth.Claim{}, fmt.Errorf("ledger: %s has unknown status %q", key, status)
	}
}

// get reads key's item with a consistent read; nil when there is none.
func (l *Ledger) get(ctx context.Context, key string) (map[string]types.AttributeValue, error) {
	out, err := l.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.table),
		Key:            map[string]types.AttributeValue{attrKey: str(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: read %s: %w", key, err)
	}
	return out.Item, nil
}

// Attempt records marker on c; see sleuth.Ledger. It fails when c is no
// longer held by its owner.
func (l *Ledger) Attempt(ctx context.Context, c sleuth.Claim, marker string) error {
	if c.Key == "" || c.Owner == "" || marker == "" {
		return errors.New("ledger: attempt: a held claim and a marker are required")
	}
	_, err := l.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      map[string]types.AttributeValue{attrKey: str(c.Key)},
		UpdateExpression:         aws.String("SET attempt = if_not_exists(attempt, :marker)"),
		ConditionExpression:      aws.String("#s = :pending AND #o = :owner"),
		ExpressionAttributeNames: map[string]string{"#s": attrStatus, "#o": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending": str(statusPending),
			":owner":   str(c.Owner),
			":marker":  str(marker),
		},
	})
	if err != nil {
		if conditionFailed(err) {
			return fmt.Errorf("ledger: attempt %s: the claim is no longer this attempt's: %w", c.Key, sleuth.ErrInProgress)
		}
		return fmt.Errorf("ledger: attempt %s: %w", c.Key, err)
	}
	return nil
}

// Done records the step of c as done with result. It is unconditional:
// once the step happened, it is done whoever holds the claim.
func (l *Ledger) Done(ctx context.Context, c sleuth.Claim, result string) error {
	if c.Key == "" {
		return errors.New("ledger: done: empty key")
	}
	_, err := l.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      map[string]types.AttributeValue{attrKey: str(c.Key)},
		UpdateExpression:         aws.String("SET #s = :done, #r = :result, expiresAt = :expires REMOVE leaseUntilMs"),
		ExpressionAttributeNames: map[string]string{"#s": attrStatus, "#r": attrResult},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done":    str(statusDone),
			":result":  str(result),
			":expires": num(l.now().Add(l.Retention).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("ledger: done %s: %w", c.Key, err)
	}
	return nil
}

// Release ends c's claim now, keeping its attempt marker. A step done, or
// claimed by another owner since, is left as it is and is not an error.
func (l *Ledger) Release(ctx context.Context, c sleuth.Claim) error {
	if c.Key == "" || c.Owner == "" {
		return errors.New("ledger: release: a held claim is required")
	}
	_, err := l.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      map[string]types.AttributeValue{attrKey: str(c.Key)},
		UpdateExpression:         aws.String("SET leaseUntilMs = :zero"),
		ConditionExpression:      aws.String("#s = :pending AND #o = :owner"),
		ExpressionAttributeNames: map[string]string{"#s": attrStatus, "#o": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending": str(statusPending),
			":owner":   str(c.Owner),
			":zero":    num(0),
		},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("ledger: release %s: %w", c.Key, err)
	}
	return nil
}

// Status reads key without claiming it.
func (l *Ledger) Status(ctx context.Context, key string) (sleuth.StepStatus, error) {
	if key == "" {
		return sleuth.StepStatus{}, errors.New("ledger: status: empty key")
	}
	item, err := l.get(ctx, key)
	if err != nil {
		return sleuth.StepStatus{}, err
	}
	switch stringAttr(item, attrStatus) {
	case statusDone:
		return sleuth.StepStatus{Done: true, Result: stringAttr(item, attrResult)}, nil
	case statusPending:
		until := time.UnixMilli(numberAttr(item, attrLeaseUntil))
		return sleuth.StepStatus{Held: l.now().Before(until), Until: until}, nil
	}
	return sleuth.StepStatus{}, nil
}

// Adopt makes thing belong to c's step; see sleuth.Ledger.
func (l *Ledger) Adopt(ctx context.Context, thing string, c sleuth.Claim) (bool, error) {
	if thing == "" || c.Key == "" {
		return false, errors.New("ledger: adopt: a thing and a claim are required")
	}
	_, err := l.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.table),
		Item: map[string]types.AttributeValue{
			attrKey:       str(thing),
			attrStep:      str(c.Key),
			attrExpiresAt: num(l.now().Add(l.Retention).Unix()),
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #st = :step"),
		ExpressionAttributeNames:  map[string]string{"#st": attrStep},
		ExpressionAttributeValues: map[string]types.AttributeValue{":step": str(c.Key)},
	})
	switch {
	case err == nil:
		return true, nil
	case conditionFailed(err):
		return false, nil
	default:
		return false, fmt.Errorf("ledger: adopt %s for %s: %w", thing, c.Key, err)
	}
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
