package awsfake

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
)

// DynamoDB fakes PutItem, GetItem, UpdateItem and DeleteItem on in-memory
// tables whose partition key is "pk" (a string), honouring condition
// expressions (comparisons, attribute_exists, attribute_not_exists, AND, OR,
// NOT, parentheses), SET (with if_not_exists) and REMOVE update
// expressions, ReturnValues ALL_NEW and ALL_OLD of UpdateItem, and
// ReturnValuesOnConditionCheckFailure ALL_OLD. It supports the attribute
// types S, N, BOOL and NULL.
type DynamoDB struct {
	Faults

	mu       sync.Mutex
	tables   map[string]map[string]Item
	requests []DynamoRequest
}

// Item is a DynamoDB item: attribute name to value.
type Item map[string]Value

// Value is a DynamoDB attribute value in its JSON wire form; exactly one
// field is set.
type Value struct {
	S    *string `json:"S,omitempty"`
	N    *string `json:"N,omitempty"`
	BOOL *bool   `json:"BOOL,omitempty"`
	NULL *bool   `json:"NULL,omitempty"`
}

// S returns a string value.
func S(s string) Value { return Value{S: &s} }

// N returns a number value.
func N(n int64) Value { s := strconv.FormatInt(n, 10); return Value{N: &s} }

// String returns the value as text, for test messages.
func (v Value) String() string {
	switch {
	case v.S != nil:
		return strconv.Quote(*v.S)
	case v.N != nil:
		return *v.N
	case v.BOOL != nil:
		return strconv.FormatBool(*v.BOOL)
	case v.NULL != nil:
		return "null"
	}
	return "<empty>"
}

// DynamoRequest is what the fake records of each request.
type DynamoRequest struct {
	Op                  string
	Table               string
	Key                 string // the pk
	ConsistentRead      bool
	ConditionExpression string
}

// NewDynamoDB returns a fake with no tables.
func NewDynamoDB() *DynamoDB { return &DynamoDB{tables: map[string]map[string]Item{}} }

// CreateTable makes an empty table; requests naming another table fail with
// ResourceNotFoundException, like DynamoDB's.
func (f *DynamoDB) CreateTable(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tables[name] == nil {
		f.tables[name] = map[string]Item{}
	}
}

// Get returns a copy of the item with partition key pk.
func (f *DynamoDB) Get(table, pk string) (Item, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.tables[table][pk]
	return maps.Clone(it), ok
}

// Items returns copies of the items of table.
func (f *DynamoDB) Items(table string) []Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := make([]Item, 0, len(f.tables[table]))
	for _, it := range f.tables[table] {
		items = append(items, maps.Clone(it))
	}
	return items
}

// Put stores an item, replacing any with the same pk; item must have a
// string "pk". The table is created when missing.
func (f *DynamoDB) Put(table string, item Item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tables[table] == nil {
		f.tables[table] = map[string]Item{}
	}
	f.tables[table][*item["pk"].S] = maps.Clone(item)
}

// Requests returns the requests served, in order.
func (f *DynamoDB) Requests() []DynamoRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]DynamoRequest(nil), f.requests...)
}

// Calls returns how many requests of op the fake served, faults included.
func (f *DynamoDB) Calls(op string) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Op == op {
			n++
		}
	}
	return n
}

type dynamoInput struct {
	TableName                           string
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	Item                                Item
	Key                                 Item
	ConsistentRead                      bool
	ConditionExpression                 string
	UpdateExpression                    string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]Value
}

const dynamoJSON = "application/x-amz-json-1.0"

func (f *DynamoDB) serve(w http.ResponseWriter, r *http.Request, op string) {
	var in dynamoInput
	if !decodeJSON(w, r, &in) {
		return
	}
	key := in.Key
	if op == "PutItem" {
		key = in.Item
	}
	pk := ""
	if v, ok := key["pk"]; ok && v.S != nil {
		pk = *v.S
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, DynamoRequest{
		Op: op, Table: in.TableName, Key: pk, ConsistentRead: in.ConsistentRead,
		ConditionExpression: in.ConditionExpression,
	})
	if code, ok := f.next(op); ok {
		writeJSONError(w, faultStatus(code), code, "injected fault")
		return
	}
	table, ok := f.tables[in.TableName]
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found")
		return
	}
	if pk == "" || len(key) != 1 && op != "PutItem" {
		writeJSONError(w, http.StatusBadRequest, "ValidationException",
			"The provided key element does not match the schema")
		return
	}
	current, exists := table[pk]
	ev := &evaluator{item: current, names: in.ExpressionAttributeNames, values: in.ExpressionAttributeValues}
	if op != "GetItem" && in.ConditionExpression != "" {
		pass, err := ev.condition(in.ConditionExpression)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "ValidationException", "Invalid ConditionExpression: "+err.Error())
			return
		}
		if !pass {
			body := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "The conditional request failed"}
			if in.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && exists {
				body["Item"] = current
			}
			w.Header().Set("X-Amzn-ErrorType", "ConditionalCheckFailedException")
			writeJSONStatus(w, http.StatusBadRequest, dynamoJSON, body)
			return
		}
	}
	switch op {
	case "PutItem":
		table[pk] = maps.Clone(in.Item)
		writeJSON(w, dynamoJSON, map[string]any{})
	case "GetItem":
		if !exists {
			writeJSON(w, dynamoJSON, map[string]any{})
			return
		}
		writeJSON(w, dynamoJSON, map[string]any{"Item": current})
	case "UpdateItem":
		next := maps.Clone(current)
		if next == nil {
			next = Item{"pk": S(pk)}
		}
		if err := ev.update(in.UpdateExpression, next); err != nil {
			writeJSONError(w, http.StatusBadRequest, "ValidationException", "Invalid UpdateExpression: "+err.Error())
			return
		}
		table[pk] = next
		switch in.ReturnValues {
		case "ALL_NEW":
			writeJSON(w, dynamoJSON, map[string]any{"Attributes": next})
		case "ALL_OLD":
			if exists {
				writeJSON(w, dynamoJSON, map[string]any{"Attributes": current})
				return
			}
			writeJSON(w, dynamoJSON, map[string]any{})
		default:
			writeJSON(w, dynamoJSON, map[string]any{})
		}
	case "DeleteItem":
		delete(table, pk)
		writeJSON(w, dynamoJSON, map[string]any{})
	default:
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "fake does not implement "+op)
	}
}
