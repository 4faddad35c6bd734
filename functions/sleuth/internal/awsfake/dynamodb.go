package awsfake

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
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

// evaluator evaluates condition and update expressions against one item
// (nil when the item does not exist).
type evaluator struct {
	item   Item
	names  map[string]string
	values map[string]Value

	toks []string
	pos  int
}

// tokenize splits an expression into names, placeholders, comparators and
// punctuation.
func tokenize(expr string) ([]string, error) {
	var toks []string
	for i := 0; i < len(expr); {
		c := rune(expr[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("(),", c):
			toks = append(toks, string(c))
			i++
		case strings.ContainsRune("=<>", c):
			j := i + 1
			if j < len(expr) && (expr[i:j+1] == "<=" || expr[i:j+1] == ">=" || expr[i:j+1] == "<>") {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		case c == '#' || c == ':' || c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c):
			j := i + 1
			for j < len(expr) && (expr[j] == '_' || expr[j] == '.' || unicode.IsLetter(rune(expr[j])) || unicode.IsDigit(rune(expr[j]))) {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

func (e *evaluator) peek() string {
	if e.pos < len(e.toks) {
		return e.toks[e.pos]
	}
	return ""
}

func (e *evaluator) take() string { t := e.peek(); e.pos++; return t }

func (e *evaluator) expect(tok string) error {
	if got := e.take(); got != tok {
		return fmt.Errorf("expected %q, got %q", tok, got)
	}
	return nil
}

// condition evaluates a whole condition expression.
func (e *evaluator) condition(expr string) (bool, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return false, err
	}
	e.toks, e.pos = toks, 0
	v, err := e.or()
	if err != nil {
		return false, err
	}
	if e.pos != len(e.toks) {
		return false, fmt.Errorf("unexpected %q", e.peek())
	}
	return v, nil
}

func (e *evaluator) or() (bool, error) {
	v, err := e.and()
	for err == nil && strings.EqualFold(e.peek(), "OR") {
		e.take()
		var w bool
		w, err = e.and()
		v = v || w
	}
	return v, err
}

func (e *evaluator) and() (bool, error) {
	v, err := e.not()
	for err == nil && strings.EqualFold(e.peek(), "AND") {
		e.take()
		var w bool
		w, err = e.not()
		v = v && w
	}
	return v, err
}

func (e *evaluator) not() (bool, error) {
	if strings.EqualFold(e.peek(), "NOT") {
		e.take()
		v, err := e.not()
		return !v, err
	}
	return e.primary()
}

func (e *evaluator) primary() (bool, error) {
	switch tok := e.peek(); {
	case tok == "(":
		e.take()
		v, err := e.or()
		if err != nil {
			return false, err
		}
		return v, e.expect(")")
	case tok == "attribute_exists" || tok == "attribute_not_exists":
		e.take()
		if err := e.expect("("); err != nil {
			return false, err
		}
		name, err := e.path(e.take())
		if err != nil {
			return false, err
		}
		if err := e.expect(")"); err != nil {
			return false, err
		}
		_, has := e.item[name]
		return has == (tok == "attribute_exists"), nil
	}
	left, lok, err := e.operand(e.take())
	if err != nil {
		return false, err
	}
	op := e.take()
	right, rok, err := e.operand(e.take())
	if err != nil {
		return false, err
	}
	if !lok || !rok {
		return false, nil // a comparison with a missing attribute is false
	}
	return compare(left, op, right)
}

// path resolves an attribute name or #placeholder.
func (e *evaluator) path(tok string) (string, error) {
	if strings.HasPrefix(tok, "#") {
		name, ok := e.names[tok]
		if !ok {
			return "", fmt.Errorf("undefined attribute name %s", tok)
		}
		return name, nil
	}
	if tok == "" || strings.HasPrefix(tok, ":") {
		return "", fmt.Errorf("expected an attribute name, got %q", tok)
	}
	return tok, nil
}

// operand resolves a :placeholder or an attribute of the item; ok is false
// for a missing attribute.
func (e *evaluator) operand(tok string) (v Value, ok bool, err error) {
	if strings.HasPrefix(tok, ":") {
		v, ok := e.values[tok]
		if !ok {
			return Value{}, false, fmt.Errorf("undefined attribute value %s", tok)
		}
		return v, true, nil
	}
	name, err := e.path(tok)
	if err != nil {
		return Value{}, false, err
	}
	v, ok = e.item[name]
	return v, ok, nil
}

// compare applies a comparator; values of different types are unequal and
// unordered, as in DynamoDB.
func compare(a Value, op string, b Value) (bool, error) {
	var c int
	switch {
	case a.S != nil && b.S != nil:
		c = strings.Compare(*a.S, *b.S)
	case a.N != nil && b.N != nil:
		x, err1 := strconv.ParseFloat(*a.N, 64)
		y, err2 := strconv.ParseFloat(*b.N, 64)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("bad number %s or %s", *a.N, *b.N)
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case a.BOOL != nil && b.BOOL != nil && (op == "=" || op == "<>"):
		if *a.BOOL != *b.BOOL {
			c = 1
		}
	default:
		return op == "<>", nil
	}
	switch op {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparator %q", op)
}

// setValue reads the value of a SET action: an operand, or
// if_not_exists(path, operand).
func (e *evaluator) setValue() (Value, bool, error) {
	tok := e.take()
	if tok != "if_not_exists" {
		return e.operand(tok)
	}
	if err := e.expect("("); err != nil {
		return Value{}, false, err
	}
	name, err := e.path(e.take())
	if err != nil {
		return Value{}, false, err
	}
	if err := e.expect(","); err != nil {
		return Value{}, false, err
	}
	fallback, ok, err := e.operand(e.take())
	if err != nil {
		return Value{}, false, err
	}
	if err := e.expect(")"); err != nil {
		return Value{}, false, err
	}
	if v, has := e.item[name]; has {
		return v, true, nil
	}
	return fallback, ok, nil
}

// update applies "SET a = :v, b = if_not_exists(b, :w) REMOVE c, d" to
// item.
func (e *evaluator) update(expr string, item Item) error {
	toks, err := tokenize(expr)
	if err != nil {
		return err
	}
	e.toks, e.pos = toks, 0
	if len(toks) == 0 {
		return fmt.Errorf("empty expression")
	}
	for e.pos < len(e.toks) {
		clause := strings.ToUpper(e.take())
		for {
			name, err := e.path(e.take())
			if err != nil {
				return err
			}
			if name == "pk" {
				return fmt.Errorf("cannot update the key attribute pk")
			}
			switch clause {
			case "SET":
				if err := e.expect("="); err != nil {
					return err
				}
				v, ok, err := e.setValue()
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("SET %s from a missing attribute", name)
				}
				item[name] = v
			case "REMOVE":
				delete(item, name)
			default:
				return fmt.Errorf("unsupported clause %q", clause)
			}
			if e.peek() != "," {
				break
			}
			e.take()
		}
	}
	return nil
}
